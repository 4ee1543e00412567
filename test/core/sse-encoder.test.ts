import { describe, expect, it } from '@jest/globals';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { isRelayError } from '../../lib/errors.js';
import { encodeComment, encodeEvent, encodeRetry, type SseEvent } from '../../lib/sse/encoder.js';

/** Parses bytes the way a browser does, fed in the given chunks. */
function parseChunks(chunks: Uint8Array[]): { events: EventSourceMessage[]; retries: number[]; comments: string[] } {
  const events: EventSourceMessage[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e), onRetry: (r) => retries.push(r), onComment: (c) => comments.push(c) });
  const decoder = new TextDecoder();
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
  parser.feed(decoder.decode());
  return { events, retries, comments };
}

/** Splits bytes at the given fractions, so chunks can end inside a CRLF or a multi-byte character. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

// SSE can only carry LF-separated lines: CRLF and lone CR arrive as LF. That is the one change a round trip may make.
const normalize = (data: string): string => data.replace(/\r\n|\r/g, '\n');

const tricky = fc.constantFrom('\r', '\n', '\r\n', '\u2028', '\u2029', '😀', '\0', '', ' ', ':', 'data: x', '\u0085', '\uFEFF', 'é');
const text = fc.array(fc.oneof(tricky, fc.string(), fc.string({ unit: 'grapheme' })), { maxLength: 8 }).map((parts) => parts.join(''));
const fieldText = text.map((s) => s.replace(/[\r\n\0]/g, '')).filter((s) => s !== '');
const event: fc.Arbitrary<SseEvent> = fc.record({ data: text, event: fc.option(fieldText, { nil: undefined }), id: fc.option(fieldText, { nil: undefined }) });

describe('encodeEvent round trip through an independent parser', () => {
  it('gives back what was sent for 10,000 generated events, however the bytes are chunked', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 5, maxLength: 10 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), (sent, cuts) => {
        const wire = encodeRetry(1000) + sent.map(encodeEvent).join('');
        const parsed = parseChunks(split(new TextEncoder().encode(wire), cuts));
        expect(parsed.retries).toEqual([1000]);
        expect(parsed.events).toHaveLength(sent.length);
        let lastId: string | undefined;
        sent.forEach((s, i) => {
          const p = parsed.events[i] as EventSourceMessage;
          if (s.id !== undefined) lastId = s.id;
          expect(p.data).toBe(normalize(s.data));
          expect(p.event ?? 'message').toBe(s.event ?? 'message');
          expect(p.id).toBe(s.id === undefined ? undefined : lastId);
        });
      }),
      { numRuns: 2_000 }, // 2,000 runs × at least 5 events each: at least 10,000 events
    );
  });

  it('splits data on CRLF, LF and lone CR', () => {
    expect(encodeEvent({ data: 'a\r\nb\nc\rd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
    expect(encodeEvent({ data: '' })).toBe('data: \n\n');
    expect(encodeEvent({ data: 'x\r' })).toBe('data: x\ndata: \n\n');
  });

  it('handles a CRLF split across two chunks as one line break', () => {
    const bytes = new TextEncoder().encode(': start\n\n' + 'data: a\r\ndata: b\r\n\r\n');
    const at = bytes.indexOf(13) + 1; // just after the first CR
    const { events } = parseChunks([bytes.subarray(0, at), bytes.subarray(at)]);
    expect(events.map((e) => e.data)).toEqual(['a\nb']);
  });

  it('keeps a leading space of the data (the parser strips exactly one)', () => {
    const { events } = parseChunks([new TextEncoder().encode(encodeEvent({ data: '  two spaces' }))]);
    expect(events[0]?.data).toBe('  two spaces');
  });

  it('omits the event line for the default type', () => {
    expect(encodeEvent({ data: 'x', event: 'message', id: '7' })).toBe('id: 7\ndata: x\n\n');
  });
});

describe('fields that must stay on one line', () => {
  it.each(['\r', '\n', '\r\n', '\0', 'a\nevent: evil'])('rejects %j in event, id and comments with a typed error', (bad) => {
    for (const build of [() => encodeEvent({ data: 'x', event: bad }), () => encodeEvent({ data: 'x', id: bad }), () => encodeComment(bad)]) {
      let thrown: unknown;
      try {
        build();
      } catch (error) {
        thrown = error;
      }
      expect(isRelayError(thrown) && thrown.code).toBe('invalid_event_field');
    }
  });

  it('rejects an empty event type', () => {
    expect(() => encodeEvent({ data: 'x', event: '' })).toThrow(/empty/);
  });

  it('accepts only non-negative integer retry values', () => {
    expect(encodeRetry(0)).toBe('retry: 0\n\n');
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => encodeRetry(bad)).toThrow(/non-negative integer/);
  });

  it('writes comments as one line', () => {
    expect(encodeComment('heartbeat')).toBe(': heartbeat\n\n');
  });
});
