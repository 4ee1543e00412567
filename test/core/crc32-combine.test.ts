import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32Combine, crc32CombineWith, crc32ShiftOperator } from '../../lib/adapters/crc32-combine.js';

describe('crc32Combine', () => {
  it('equals zlib.crc32 of the concatenation, for parts of any length (empty, 1 byte, across powers of two)', () => {
    for (const [a, b] of [[0, 0], [0, 5], [5, 0], [1, 1], [3, 255], [100, 256], [4096, 4097], [70_000, 65_535], [7, 1_048_577]]) {
      const first = randomBytes(a as number);
      const second = randomBytes(b as number);
      expect(crc32Combine(crc32(first), crc32(second), second.byteLength)).toBe(crc32(Buffer.concat([first, second])));
    }
  });

  it('holds for arbitrary splits of arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2_000 }), fc.nat(), (bytes, at) => {
      const cut = bytes.length === 0 ? 0 : at % (bytes.length + 1);
      const [first, second] = [bytes.subarray(0, cut), bytes.subarray(cut)];
      return crc32Combine(crc32(first), crc32(second), second.length) === crc32(bytes);
    }), { numRuns: 300 });
  });

  it('chains segment after segment as a gzip stream does, reusing one operator per segment', () => {
    const segments = Array.from({ length: 50 }, (_, i) => randomBytes(1 + ((i * 37) % 300)));
    const operators = segments.map((segment) => crc32ShiftOperator(segment.byteLength));
    let running = 0;
    segments.forEach((segment, i) => { running = crc32CombineWith(operators[i]!, running, crc32(segment)); });
    expect(running).toBe(crc32(Buffer.concat(segments)));
  });

  it('refuses a length that is not a whole number of bytes in range', () => {
    expect(() => crc32ShiftOperator(-1)).toThrow(/length must be a whole number/);
    expect(() => crc32ShiftOperator(1.5)).toThrow(RangeError);
    expect(() => crc32ShiftOperator(2 ** 48)).toThrow(RangeError);
  });
});
