/** One SQS message attribute, in the shape both the SDK's Message and Lambda's SQS event can be mapped to. */
export interface AttributeValue {
  /** `String`, `String.<label>`, `Number…` or `Binary…`. */
  dataType: string | undefined;
  stringValue: string | undefined;
}

/** What a `topic` or `event` attribute says: absent, a string value, or a problem that makes the message invalid. */
export type AttributeReading = { kind: 'absent' } | { kind: 'value'; value: string } | { kind: 'invalid'; reason: string };

/**
 * Reads an attribute that must be of type String. One of another type (a Binary `topic`, a Number `event`) makes the
 * message invalid rather than being read as absent: that would route it to a default topic, or to the default event
 * type, without anyone noticing.
 */
export function readStringAttribute(name: string, attribute: AttributeValue | undefined): AttributeReading {
  if (attribute === undefined) return { kind: 'absent' };
  const type = attribute.dataType ?? '';
  if ((type !== 'String' && !type.startsWith('String.')) || attribute.stringValue === undefined) {
    return { kind: 'invalid', reason: `the ${name} attribute must be of type String (got ${JSON.stringify(type.slice(0, 40))})` };
  }
  return { kind: 'value', value: attribute.stringValue };
}
