import { crc32 } from 'node:zlib';
import type { ByteSink } from '../engine/byte-sink.js';
import { crc32CombineWith } from './crc32-combine.js';
import { ForwardingSink } from './forwarding-sink.js';
import { segmentOf, shiftOf } from './gzip-segments.js';

// RFC 1952 member header: magic, CM=8 (deflate), no flags, no mtime, no extra flags, OS 255 (unknown).
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
// A final fixed-Huffman block holding only end-of-block: 3 header bits + 7 code bits, padded to two bytes.
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * A ByteSink that sends a gzip stream (Content-Encoding: gzip) made of shared segments: each buffer written is
 * compressed once as an independent deflate segment (gzip-segments.ts) and the same compressed bytes go to every
 * connection that gets that buffer. What a stream keeps of its own is two numbers, the CRC-32 and the length of what it
 * sent, where a zlib stream per connection would hold tens of KiB of deflate state.
 *
 * Each write is a complete, byte-aligned flush: a browser can decode an event as soon as its chunk arrives. Its
 * `writableLength` is the inner sink's, so the slow-consumer bound counts the compressed bytes, which are what queues.
 */
export class GzipSink extends ForwardingSink {
  private crc = 0;
  // Uncompressed bytes sent, modulo 2^32 (gzip's ISIZE).
  private size = 0;
  private started = false;
  private ended = false;

  constructor(inner: ByteSink) {
    super(inner);
  }

  override write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    if (chunk.byteLength === 0 || this.ended) {
      done?.(null);
      return true;
    }
    const segment = segmentOf(chunk);
    const shift = shiftOf(segment);
    this.crc = shift === undefined ? crc32(chunk, this.crc) : crc32CombineWith(shift, this.crc, segment.crc);
    this.size = (this.size + segment.length) % 0x1_0000_0000;
    if (this.started) return this.inner.write(segment.bytes, done);
    this.started = true;
    return this.inner.write(Buffer.concat([GZIP_HEADER, segment.bytes]), done);
  }

  /** Closes the deflate stream (final empty block) and the gzip member (CRC-32, ISIZE), then ends the inner sink. */
  override end(): void {
    if (this.ended) return;
    this.ended = true;
    // A client that has gone needs no trailer, and its socket takes no more writes.
    if (this.inner.destroyed === true) return void this.inner.end();
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc, 0);
    trailer.writeUInt32LE(this.size, 4);
    this.inner.write(Buffer.concat(this.started ? [FINAL_EMPTY_BLOCK, trailer] : [GZIP_HEADER, FINAL_EMPTY_BLOCK, trailer]));
    this.started = true;
    this.inner.end();
  }
}
