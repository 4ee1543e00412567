import { expect, test } from '@jest/globals';
import { isRelayError } from '../../lib/errors.js';
import { recordProblem } from '../../lib/bridge/ingest-batch.js';
import { parsePublishBody } from '../../lib/http/publish-body.js';
import { isStoredMessage, parseListEnvelope, parseStreamEntry } from '../../lib/sources/redis/entry.js';
import { readMessage } from '../../lib/sources/sqs/message.js';

const MAX_BYTES = 1_000;

/** One message as every path would carry it; `ok` is what the shared rules say. */
const CASES: { name: string; event?: string; id?: string; data: string; ok: boolean }[] = [
  { name: 'plain', event: 'created', id: 'k1', data: '{"a":1}', ok: true },
  { name: 'event of 128 characters', event: 'e'.repeat(128), data: 'x', ok: true },
  { name: 'event of 129 characters', event: 'e'.repeat(129), data: 'x', ok: false },
  { name: 'event of 200 characters', event: 'e'.repeat(200), data: 'x', ok: false },
  { name: 'empty event', event: '', data: 'x', ok: false },
  { name: 'LF in event', event: 'a\nid: 9', data: 'x', ok: false },
  { name: 'NUL in event', event: 'a\0', data: 'x', ok: false },
  { name: 'reserved relay.reset', event: 'relay.reset', data: '{"reason":"x"}', ok: false },
  { name: 'reserved relay.anything', event: 'relay.other', data: 'x', ok: false },
  { name: 'relay without the dot is fine', event: 'relayed', data: 'x', ok: true },
  { name: 'EventSource\'s own error', event: 'error', data: 'x', ok: false },
  { name: 'EventSource\'s own open', event: 'open', data: 'x', ok: false },
  { name: 'other case is another event to a browser', event: 'Error', data: 'x', ok: true },
  { name: 'message is the default type', event: 'message', data: 'x', ok: true },
  { name: 'id of 256 characters', id: 'i'.repeat(256), data: 'x', ok: true },
  { name: 'id of 257 characters', id: 'i'.repeat(257), data: 'x', ok: false },
  { name: 'CR in id', id: 'a\rb', data: 'x', ok: false },
  { name: 'data at the size bound', data: 'x'.repeat(MAX_BYTES), ok: true },
  { name: 'data over the size bound', data: 'x'.repeat(MAX_BYTES + 1), ok: false },
  { name: 'multi-line data with emoji', data: 'a\r\nb\rc 😀', ok: true },
];

function viaPublish(c: (typeof CASES)[number]): boolean {
  try {
    parsePublishBody(Buffer.from(JSON.stringify({ topic: 't', data: c.data, event: c.event, id: c.id })), MAX_BYTES);
    return true;
  } catch (error) {
    expect(isRelayError(error)).toBe(true);
    return false;
  }
}

function viaStreamEntry(c: (typeof CASES)[number]): boolean | undefined {
  if (c.id !== undefined) return undefined; // a stream entry's id is the stream's own
  const fields = [Buffer.from('data'), Buffer.from(c.data)];
  if (c.event !== undefined) fields.push(Buffer.from('event'), Buffer.from(c.event));
  return isStoredMessage(parseStreamEntry('t', [Buffer.from('1-0'), fields], MAX_BYTES));
}

function viaListItem(c: (typeof CASES)[number]): boolean {
  return typeof parseListEnvelope(Buffer.from(JSON.stringify({ data: c.data, event: c.event, id: c.id })), MAX_BYTES) !== 'string';
}

function viaSqs(c: (typeof CASES)[number]): boolean {
  const attributes: Record<string, { DataType: string; StringValue: string }> = {};
  if (c.event !== undefined) attributes['event'] = { DataType: 'String', StringValue: c.event };
  return readMessage({ MessageId: c.id ?? 'm-1', ReceiptHandle: 'rh', Body: c.data, MessageAttributes: attributes }, MAX_BYTES).kind === 'frame';
}

function viaIngest(c: (typeof CASES)[number]): boolean {
  return recordProblem({ messageId: c.id ?? 'm-1', body: c.data, topic: 't', event: c.event }, undefined, MAX_BYTES) === undefined;
}

test.each(CASES)('every path that takes a message agrees: $name', (c) => {
  expect(viaPublish(c)).toBe(c.ok);
  expect(viaListItem(c)).toBe(c.ok);
  expect(viaSqs(c)).toBe(c.ok);
  expect(viaIngest(c)).toBe(c.ok);
  const entry = viaStreamEntry(c);
  if (entry !== undefined) expect(entry).toBe(c.ok);
});

test('a lone surrogate has no UTF-8 form: refused by publish, SQS, the bridge and a list item (JSON escapes can spell one)', () => {
  const c = { name: 'lone surrogate', data: 'a\uD800b', ok: false };
  expect([viaPublish(c), viaSqs(c), viaIngest(c), viaListItem(c)]).toEqual([false, false, false, false]);
});

test('a lone surrogate in an event or an id is refused as well: on the wire it would be U+FFFD, not what was sent', () => {
  for (const c of [{ name: 'event', event: 'a\uDC00', data: 'x', ok: false }, { name: 'id', id: 'k\uD800', data: 'x', ok: false }]) {
    expect([viaPublish(c), viaListItem(c), viaIngest(c)]).toEqual([false, false, false]);
  }
  expect(viaSqs({ name: 'event', event: 'a\uD83D', data: 'x', ok: false })).toBe(false);
});

test('publishing a reserved event is a 400 that names the field, not a 500', () => {
  const body = Buffer.from(JSON.stringify({ topic: 't', data: 'x', event: 'relay.reset' }));
  expect(() => parsePublishBody(body, MAX_BYTES)).toThrow(expect.objectContaining({ code: 'invalid_event_field' }));
});

test('nesting deeper than the bound is 400 invalid_body; at the bound it is accepted', () => {
  const nested = (depth: number): string => `{"topic":"t","data":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`;
  expect(() => parsePublishBody(Buffer.from(nested(5_000)), 1_000_000)).toThrow(expect.objectContaining({ code: 'invalid_body' }));
  expect(parsePublishBody(Buffer.from(nested(64)), 1_000_000).message.data).toBe(`${'['.repeat(63)}1${']'.repeat(63)}`);
  // A list item's data is re-encoded the same way: a producer's deep item is refused, not a stack overflow.
  const deepItem = `{"data":${'['.repeat(4_999)}1${']'.repeat(4_999)}}`;
  expect(parseListEnvelope(Buffer.from(deepItem), 1_000_000)).toBe('the item nests deeper than 64 levels');
  expect(parseListEnvelope(Buffer.from(`{"data":${'['.repeat(63)}1${']'.repeat(63)}}`), 1_000_000)).toMatchObject({ data: `${'['.repeat(63)}1${']'.repeat(63)}` });
  // Brackets inside strings do not count.
  expect(parsePublishBody(Buffer.from(JSON.stringify({ topic: 't', data: '['.repeat(500) })), 1_000_000).topic).toBe('t');
});

test('an SQS message that cannot be a frame is reported under its MessageId as SQS gave it, once (no JSON quotes)', () => {
  // The log line is JSON already; a MessageId quoted again read "\"e1d0…\"" and matched nothing in the SQS console.
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
  const cases: Parameters<typeof readMessage>[0][] = [
    { MessageId: 'e1d0-1', ReceiptHandle: 'rh', Body: 'x'.repeat(MAX_BYTES + 1) },
    { MessageId: 'e1d0-2', ReceiptHandle: 'rh', Body: 'x', MessageAttributes: { event: attribute('bad event\n') } },
    { MessageId: 'e1d0-3', ReceiptHandle: 'rh', Body: 'x', MessageAttributes: { topic: attribute('no spaces allowed') } },
  ];
  expect(cases.map((message) => readMessage(message, MAX_BYTES))).toEqual([
    expect.objectContaining({ kind: 'invalid', messageId: 'e1d0-1' }),
    expect.objectContaining({ kind: 'invalid', messageId: 'e1d0-2' }),
    expect.objectContaining({ kind: 'invalid', messageId: 'e1d0-3' }),
  ]);
});

// JSON numbers are doubles to JSON.parse: re-serializing `data` turned a 64-bit id into its neighbour and 1e400 into
// null, and the publish was still accepted. Both JSON paths now carry the producer's own text, whitespace left out.
test('non-string data keeps the producer\'s digits and escapes (publish and list item), without whitespace between tokens', () => {
  const cases: [string, string][] = [
    ['{"id": 9007199254740993, "big": 1e400, "tiny": 1e-400, "neg": -0, "f": 0.1000000000000000055511151231257827}', '{"id":9007199254740993,"big":1e400,"tiny":1e-400,"neg":-0,"f":0.1000000000000000055511151231257827}'],
    ['12345678901234567890', '12345678901234567890'],
    ['[ 1 , 2 ,\n {"s": "a \\" } , b", "e": "\\u0041\\/"} ]', '[1,2,{"s":"a \\" } , b","e":"\\u0041\\/"}]'],
    ['true', 'true'],
  ];
  for (const [written, sent] of cases) {
    for (const text of [`{"topic": "t", "data" : ${written} , "event":"e"}`, `{"d\\u0061ta":0,"topic":"t","data":${written}}`]) {
      expect(parsePublishBody(Buffer.from(text), MAX_BYTES).message.data).toBe(sent);
      const envelope = parseListEnvelope(Buffer.from(`\uFEFF${text.replace('"topic": "t", ', '').replace(',"topic":"t"', '')}`), MAX_BYTES);
      expect(typeof envelope === 'string' ? envelope : envelope.data).toBe(sent);
    }
  }
});
