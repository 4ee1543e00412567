import { constants, crc32, deflateRawSync } from 'node:zlib';
import { crc32ShiftOperator, type Crc32Operator } from './crc32-combine.js';

/**
 * A stream's bytes as an independent piece of a deflate stream: it starts and ends on a byte boundary, holds only
 * non-final blocks and refers to nothing before it, so any sequence of segments, followed by a final block, is a valid
 * deflate stream (RFC 1951 §3.2.3: a stream is a series of blocks, and a back-reference may only reach data the
 * segment itself emitted). That is what lets every connection share the segments of shared frames.
 */
export interface GzipSegment {
  /** The compressed bytes. */
  readonly bytes: Buffer;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc: number;
  /** Uncompressed length in bytes. */
  readonly length: number;
  /**
   * Appends `length` zero bytes to a CRC register: connections fold `crc` into their own with it (see crc32-combine).
   * Built on the segment's second use (shiftOf): a frame only one stream gets never pays for it.
   */
  shift: Crc32Operator | undefined;
  /** Whether a stream has used the segment already. */
  used: boolean;
}

// Below this many bytes a frame is sent as a stored (uncompressed) block: deflate's own framing and the sync flush's
// empty stored block (5 bytes) eat what it would save on a `retry:` or an id-only frame, and a stored block costs no
// deflate run (~20 µs each on Node 20, measured) for what is usually a per-connection frame.
const STORE_BELOW_BYTES = 64;
const STORED_BLOCK_MAX = 65_535;
// Deflate's defaults (level 6, 32 KiB window, memLevel 8). The state is freed when the call returns: nothing of it
// stays per stream.
const DEFLATE_OPTIONS = { finishFlush: constants.Z_SYNC_FLUSH };

// Keyed by the very buffer the engine hands to every connection of a topic set, like the chunk framing cache in
// chunked-socket-sink.ts: a shared frame is compressed once, whatever the number of connections.
const segments = new WeakMap<Uint8Array, GzipSegment>();

/** The segment of `chunk` (non-empty), compressed once per buffer and cached for as long as the buffer lives. */
export function segmentOf(chunk: Uint8Array): GzipSegment {
  let segment = segments.get(chunk);
  if (segment === undefined) {
    segment = makeSegment(chunk);
    segments.set(chunk, segment);
  }
  return segment;
}

function makeSegment(chunk: Uint8Array): GzipSegment {
  const length = chunk.byteLength;
  const deflated: Buffer | undefined = length < STORE_BELOW_BYTES ? undefined : deflateRawSync(chunk, DEFLATE_OPTIONS);
  // Data that does not compress (already compressed, random) goes out stored: never more than 5 bytes per 64 KiB extra.
  const bytes = deflated === undefined || deflated.byteLength >= length + 5 ? storedBlocks(chunk) : deflated;
  return { bytes, crc: crc32(chunk), length, shift: undefined, used: false };
}

/**
 * The CRC shift operator of a segment, or undefined on its first use (the stream then runs zlib.crc32 over the bytes).
 * Folding with the operator is one 32-step matrix-vector product, about 70 ns per stream and write whatever the length,
 * where zlib.crc32 over a shared 120-byte frame costs about 300 ns (measured, Node 20); building it costs a few µs once.
 */
export function shiftOf(segment: GzipSegment): Crc32Operator | undefined {
  if (!segment.used) {
    segment.used = true;
    return undefined;
  }
  return (segment.shift ??= crc32ShiftOperator(segment.length));
}

/** `chunk` as non-final stored blocks (RFC 1951 §3.2.4): header byte 0, LEN and its complement, the bytes. */
export function storedBlocks(chunk: Uint8Array): Buffer {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < chunk.byteLength; at += STORED_BLOCK_MAX) {
    const piece = chunk.subarray(at, at + STORED_BLOCK_MAX);
    const length = piece.byteLength;
    parts.push(Buffer.from([0, length & 0xff, length >>> 8, ~length & 0xff, (~length >>> 8) & 0xff]), piece);
  }
  return Buffer.concat(parts);
}
