// A load-generating process like load-client.mjs, for the compression benchmark (bench/gzip.mjs): it removes the HTTP
// chunk framing itself and, when the answer says `Content-Encoding: gzip`, inflates what arrives before counting
// `data:` lines. Used for both sides of the comparison (with and without gzip), so they pay the same client costs
// apart from inflating. Driven by its parent over IPC (bench/load-process.mjs).
/* global Buffer */
import { constants, inflateRawSync } from 'node:zlib';
import { READ_BUFFER, scanEvents, serveLoad, tally } from './load-process.mjs';

/** Counts the events in decoded SSE text, carrying an unfinished last line to the next call. */
function eventCounter() {
  let carry = '';
  return (decoded) => {
    carry = scanEvents(carry + decoded);
  };
}

/**
 * Removes chunked framing (`size CRLF data CRLF`) from a byte stream and hands the payload to `onPayload`: as it comes,
 * or each chunk's whole payload at once (`whole`). The relay sends every answer to these requests chunked.
 */
function dechunker(onPayload, whole) {
  let size = -1;
  let line = '';
  let parts = [];
  return (buffer) => {
    let at = 0;
    while (at < buffer.length) {
      if (size < 0) {
        const eol = buffer.indexOf(10, at);
        if (eol === -1) return void (line += buffer.latin1Slice(at, buffer.length));
        line += buffer.latin1Slice(at, eol);
        at = eol + 1;
        if (line.trim() === '') { line = ''; continue; } // the CRLF after a chunk's data
        size = parseInt(line, 16);
        line = '';
        continue;
      }
      const take = Math.min(size, buffer.length - at);
      const piece = buffer.subarray(at, at + take);
      at += take;
      size -= take;
      if (!whole) { if (take > 0) onPayload(piece); if (size === 0) size = -1; continue; }
      // Copied: the read buffer is reused by the next read.
      if (take > 0) parts.push(Buffer.from(piece));
      if (size === 0) {
        size = -1;
        const payload = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        parts = [];
        if (payload.length > 0) onPayload(payload);
      }
    }
  };
}

/** The body handler of one socket once its head is read: inflating (gzip) or not, then counting. */
function bodyReader(gzip) {
  const count = eventCounter();
  if (!gzip) return dechunker((payload) => count(payload.latin1Slice(0, payload.length)), false);
  let first = true;
  return dechunker((payload) => {
    // The 10-byte gzip header opens the first chunk; the last chunk holds only the final block and the trailer.
    const segments = first ? payload.subarray(10) : payload;
    first = false;
    count(inflateChunk(segments));
  }, true);
}

// The relay writes every chunk as whole, independent deflate segments (lib/adapters/gzip-segments.ts), and its streams
// get the same chunks: so each chunk is inflated on its own, and the last result is reused when the next socket's chunk
// is the same bytes. That keeps this client's cost per frame near the plain client's, so its p99 measures the server;
// decoding as one stream, chunk boundaries anywhere, is what the tests check (Chromium, zlib's createGunzip).
let lastKey = '';
let lastText = '';
function inflateChunk(segments) {
  const key = segments.latin1Slice(0, segments.length);
  if (key !== lastKey) {
    lastKey = key;
    try {
      lastText = inflateRawSync(segments, { finishFlush: constants.Z_SYNC_FLUSH }).latin1Slice();
    } catch {
      lastText = ''; // the last chunk of a stream: the final block and the trailer, no events
    }
  }
  return lastText;
}

/** The read callback of one socket: the head, then the body inflated (gzip) or not. */
function reader(onHead) {
  let head = '';
  let body;
  return (length) => {
    tally.bytes += length;
    // Consumed before the next read reuses the buffer: the dechunker keeps strings, the inflate runs synchronously.
    const chunk = READ_BUFFER.subarray(0, length);
    if (body !== undefined) return body(chunk);
    head += chunk.latin1Slice(0, chunk.length);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    body = bodyReader(/\r\ncontent-encoding: gzip\r\n/i.test(head.slice(0, end + 2)));
    const rest = Buffer.from(head.slice(end + 4), 'latin1');
    onHead(head.startsWith('HTTP/1.1 200'));
    if (rest.length > 0) body(rest);
  };
}

serveLoad(reader);
