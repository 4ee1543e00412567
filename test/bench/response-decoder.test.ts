import { describe, expect, it } from '@jest/globals';
import { responseDecoder } from '../../bench/response-decoder.mjs';

const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n';
const FRAMES = ['retry: 2000\n\n', 'id: bench=1\ndata: {"t":1.5,"s":0}\n\n', 'id: bench=2\ndata: {"t":2.5,"s":1}\n\nid: bench=3\ndata: {"t":3.5,"s":2}\n\n', ': hb\n\n'];
const BODY = FRAMES.join('');

function chunked(frames: string[], extension = ''): string {
  return frames.map((frame) => `${frame.length.toString(16)}${extension}\r\n${frame}\r\n`).join('') + '0\r\n\r\n';
}

/** Feeds `wire` to a fresh decoder in the given pieces; returns the body, the head verdicts and how often it ended. */
function decode(pieces: string[]): { body: string; heads: boolean[]; ends: number } {
  const heads: boolean[] = [];
  let ends = 0;
  const feed = responseDecoder((ok) => heads.push(ok), () => { ends += 1; });
  return { body: pieces.map(feed).join(''), heads, ends };
}

describe('the bench load client\'s own response decoding', () => {
  it('de-chunks a response split at every single byte boundary', () => {
    const wire = HEAD + chunked(FRAMES);
    for (let at = 0; at <= wire.length; at++) {
      expect(decode([wire.slice(0, at), wire.slice(at)])).toEqual({ body: BODY, heads: [true], ends: 1 });
    }
  });

  it('de-chunks a response fed one byte at a time, chunk extensions included', () => {
    const wire = HEAD + chunked(FRAMES, ';ext=1');
    expect(decode([...wire])).toEqual({ body: BODY, heads: [true], ends: 1 });
  });

  it('passes a body that is not chunked through as it comes, and reports a refusal', () => {
    const plain = 'HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n\r\n';
    expect(decode([plain + BODY.slice(0, 7), BODY.slice(7)])).toEqual({ body: BODY, heads: [true], ends: 0 });
    expect(decode(['HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n']).heads).toEqual([false]);
  });

  it('ignores anything after the last chunk', () => {
    const wire = HEAD + chunked(FRAMES) + 'HTTP/1.1 200 OK\r\n';
    expect(decode([wire])).toEqual({ body: BODY, heads: [true], ends: 1 });
  });
});
