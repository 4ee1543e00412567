import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { GzipSink } from '../../lib/adapters/gzip-sink.js';
import { segmentOf, storedBlocks } from '../../lib/adapters/gzip-segments.js';
import { RecordingSink } from '../support/recording-sink.js';

const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

describe('GzipSink', () => {
  it('hands every connection the very same compressed bytes for a shared buffer: compressed once, not per stream', () => {
    const shared = Buffer.from('id: t=1\nevent: message\ndata: ' + 'shared payload '.repeat(40) + '\n\n');
    const sinks = [new RecordingSink(), new RecordingSink(), new RecordingSink()];
    const gzips = sinks.map((sink) => new GzipSink(sink));
    for (const gzip of gzips) gzip.write(Buffer.from('retry: 2000\n\n'));
    for (const gzip of gzips) gzip.write(shared);
    const second = sinks.map((sink) => sink.chunks[1]);
    expect(second[0]).toBe(segmentOf(shared).bytes);
    expect(second.every((bytes) => bytes === second[0])).toBe(true);
    expect(segmentOf(shared).bytes.byteLength).toBeLessThan(shared.byteLength / 3);
    for (const [i, gzip] of gzips.entries()) {
      gzip.end();
      expect(sinks[i]?.ended).toBe(true);
      expect(gunzipSync(Buffer.concat(sinks[i]?.chunks ?? [])).toString()).toBe(`retry: 2000\n\n${shared.toString()}`);
    }
  });

  it('keeps each segment independent: any order of segments, then a final block, inflates to the same order of texts', () => {
    const texts = ['a'.repeat(500), randomBytes(3_000).toString('hex'), 'tiny\n', 'b'.repeat(500)].map((text) => Buffer.from(text));
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1, 0, 0]]) {
      const deflate = Buffer.concat([...order.map((i) => segmentOf(texts[i] as Buffer).bytes), FINAL_EMPTY_BLOCK]);
      expect(inflateRawSync(deflate)).toEqual(Buffer.concat(order.map((i) => texts[i] as Buffer)));
    }
  });

  it('sends data that does not compress as stored blocks of at most 64 KiB, at most 5 bytes each extra', () => {
    const noise = randomBytes(200_000);
    const segment = segmentOf(noise);
    expect(segment.bytes.byteLength).toBe(noise.byteLength + 5 * Math.ceil(noise.byteLength / 65_535));
    expect(inflateRawSync(Buffer.concat([segment.bytes, FINAL_EMPTY_BLOCK]))).toEqual(noise);
    expect(inflateRawSync(Buffer.concat([storedBlocks(Buffer.from('x')), FINAL_EMPTY_BLOCK])).toString()).toBe('x');
  });

  it('ends a stream that never wrote as a valid empty gzip member, once, and ignores writes after its end', () => {
    const sink = new RecordingSink();
    const gzip = new GzipSink(sink);
    gzip.end();
    gzip.end();
    expect(gzip.write(Buffer.from('late'))).toBe(true);
    expect(sink.chunks).toHaveLength(1);
    expect(gunzipSync(Buffer.concat(sink.chunks)).byteLength).toBe(0);
  });

  it('reports the inner sink\'s queue and state, and passes write callbacks and destroy through', () => {
    const sink = new RecordingSink();
    sink.backlog = 1234;
    const gzip = new GzipSink(sink);
    let confirmed = false;
    gzip.write(Buffer.from('frame'), () => { confirmed = true; });
    expect(confirmed).toBe(true);
    expect(gzip.writableLength).toBe(1234);
    expect(gzip.destroyed).toBe(false);
    gzip.destroy();
    expect(sink.destroyed).toBe(true);
    expect(gzip.destroyed).toBe(true);
  });
});
