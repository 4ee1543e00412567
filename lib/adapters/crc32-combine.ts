/**
 * CRC-32 (the gzip/zlib polynomial) of a concatenation from the CRCs of its parts, by the GF(2) matrix method of zlib's
 * crc32_combine: appending n zero bytes to a message is a linear map on its CRC register, a 32×32 bit matrix, and the
 * matrix for n bytes is a product of the precomputed matrices for the powers of two in n.
 *
 * The gzip sink needs this because every connection sends its own sequence of shared, pre-compressed segments and must
 * end with the CRC-32 of all it sent. The map depends only on the length of the appended part, so a shared segment
 * builds its operator once (crc32ShiftOperator) and each connection then pays one matrix-vector product per write.
 */

/** A linear map on CRC-32 registers: row n is the image of the register with only bit n set. */
export type Crc32Operator = Uint32Array;

// The reflected CRC-32 polynomial (IEEE 802.3), as zlib.crc32 and gzip use it.
const POLYNOMIAL = 0xedb88320;
// Longest part length supported: 2^48 − 1 bytes, far past anything one stream sends.
const MAX_LENGTH_BITS = 48;

function times(matrix: Crc32Operator, vector: number): number {
  let sum = 0;
  for (let row = 0; vector !== 0; row++, vector >>>= 1) {
    if ((vector & 1) !== 0) sum ^= matrix[row] as number;
  }
  return sum >>> 0;
}

/** The map `first` then `second` (they commute when both are shifts, as here). */
function compose(second: Crc32Operator, first: Crc32Operator): Crc32Operator {
  const product = new Uint32Array(32);
  for (let row = 0; row < 32; row++) product[row] = times(second, first[row] as number);
  return product;
}

/** BYTE_SHIFTS[k]: the map that appends 2^k zero bytes. */
const BYTE_SHIFTS: readonly Crc32Operator[] = buildByteShifts();

function buildByteShifts(): Crc32Operator[] {
  // One zero bit: shift right by one, folding the polynomial back in when the low bit falls out.
  let bit: Crc32Operator = new Uint32Array(32);
  bit[0] = POLYNOMIAL;
  for (let row = 1; row < 32; row++) bit[row] = (1 << (row - 1)) >>> 0;
  for (let doubling = 0; doubling < 3; doubling++) bit = compose(bit, bit);
  const shifts: Crc32Operator[] = [bit];
  for (let k = 1; k < MAX_LENGTH_BITS; k++) {
    const last = shifts[k - 1] as Crc32Operator;
    shifts.push(compose(last, last));
  }
  return shifts;
}

/** The map that turns crc(A) into crc(A followed by `length` zero bytes); build it once per length, reuse it. */
export function crc32ShiftOperator(length: number): Crc32Operator {
  if (!Number.isSafeInteger(length) || length < 0 || length >= 2 ** MAX_LENGTH_BITS) {
    throw new RangeError(`crc32ShiftOperator: length must be a whole number from 0 to 2^${MAX_LENGTH_BITS} − 1, got ${length}`);
  }
  let operator: Crc32Operator | undefined;
  for (let k = 0, rest = length; rest > 0; k++, rest = Math.floor(rest / 2)) {
    if (rest % 2 === 0) continue;
    const shift = BYTE_SHIFTS[k] as Crc32Operator;
    operator = operator === undefined ? shift : compose(shift, operator);
  }
  return operator ?? IDENTITY;
}

const IDENTITY: Crc32Operator = Uint32Array.from({ length: 32 }, (_, row) => (1 << row) >>> 0);

/** crc(A ‖ B) from crc(A), crc(B) and the shift operator of B's length (see crc32ShiftOperator). */
export function crc32CombineWith(operator: Crc32Operator, crcA: number, crcB: number): number {
  return (times(operator, crcA >>> 0) ^ crcB) >>> 0;
}

/** crc(A ‖ B) from crc(A), crc(B) and B's length in bytes: zlib's crc32_combine. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return crc32CombineWith(crc32ShiftOperator(lengthB), crcA, crcB);
}
