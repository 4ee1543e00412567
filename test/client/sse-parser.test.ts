import { describe, expect, it } from '@jest/globals';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { EventStreamParser } from '../../public/sse-parser.js';
import { encodeEvent, encodeRetry, type SseEvent } from '../../lib/sse/encoder.js';

// The browser client's own parser (public/sse-parser.js) against the server's encoder and an independent parser
// (eventsource-parser), with chunks cut anywhere: inside a CRLF, inside a multi-byte character, after a BOM.

interface Parsed {
  events: { type: string; data: string; lastEventId: string }[];
  ids: string[];
  retries: number[];
}

function ours(chunks: Uint8Array[], lastEventId = ''): Parsed {
  const out: Parsed = { events: [], ids: [], retries: [] };
  const parser = new EventStreamParser({ onEvent: (e) => out.events.push(e), onId: (id) => out.ids.push(id), onRetry: (ms) => out.retries.push(ms) }, lastEventId);
  for (const chunk of chunks) parser.feed(chunk);
  return out;
}

function reference(bytes: Uint8Array): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed(new TextDecoder().decode(bytes));
  return events;
}

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

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const tricky = fc.constantFrom('\r', '\n', '\r\n', '\u2028', '😀', '', ' ', ':', 'data: x', '\uFEFF', 'é');
const text = fc.array(fc.oneof(tricky, fc.string(), fc.string({ unit: 'grapheme' })), { maxLength: 8 }).map((parts) => parts.join(''));
const fieldText = text.map((s) => s.replace(/[\r\n\0]/g, '')).filter((s) => s !== '' && !s.startsWith(' '));
const event: fc.Arbitrary<SseEvent> = fc.record({ data: text, event: fc.option(fieldText, { nil: undefined }), id: fc.option(fieldText, { nil: undefined }) });

describe('EventStreamParser', () => {
  it('reads what the encoder writes exactly as eventsource-parser does, however the bytes are cut', () => {
    fc.assert(fc.property(fc.array(event, { maxLength: 6 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), (events, cuts) => {
      const wire = bytes(encodeRetry(2000) + events.map((e) => encodeEvent(e)).join(''));
      const parsed = ours(split(wire, cuts));
      let lastId = '';
      const expected = reference(wire).map((e) => ({ type: e.event ?? 'message', data: e.data, lastEventId: (lastId = e.id ?? lastId) }));
      expect(parsed.events).toEqual(expected);
      expect(parsed.retries).toEqual([2000]);
    }), { numRuns: 300 });
  });

  it('an id-only frame moves the last event id without an event; a frame cut before its blank line does not', () => {
    const parsed = ours([bytes('\uFEFFretry: 10\n\nid: t=5\n\n: heartbeat\n\nid: t=6\r'), bytes('\ndata: {"a":1}\r'), bytes('\r\nid: t=7\ndata: cut')], 't=4');
    expect(parsed.ids).toEqual(['t=5', 't=6']);
    expect(parsed.events).toEqual([{ type: 'message', data: '{"a":1}', lastEventId: 't=6' }]);
    expect(parsed.retries).toEqual([10]);
  });

  it('drops one byte order mark at the start, as EventSource does (a second is part of the first field name); an empty chunk between CR and LF keeps them one line end', () => {
    const parsed = ours([bytes('\uFEFF\uFEFFdata: a\n\ndata: b\r'), new Uint8Array(0), bytes('\ndata: c\n\n')]);
    expect(parsed.events).toEqual([{ type: 'message', data: 'b\nc', lastEventId: '' }]);
    const split = ours([new Uint8Array([0xef]), new Uint8Array([0xbb, 0xbf]), bytes('data: a\n\n\uFEFFdata: later\n\n')]);
    expect(split.events).toEqual([{ type: 'message', data: 'a', lastEventId: '' }]);
  });

  it('keeps the id of the previous connection for events without one; ignores ids with NUL and malformed retry', () => {
    const parsed = ours([bytes('event: a\ndata: x\n\nid: bad\0id\nretry: 1e3\ndata: y\n\n')], 'topic=9');
    expect(parsed.events).toEqual([{ type: 'a', data: 'x', lastEventId: 'topic=9' }, { type: 'message', data: 'y', lastEventId: 'topic=9' }]);
    expect(parsed.retries).toEqual([]);
  });
});
