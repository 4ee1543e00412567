/**
 * A delay spread uniformly over [base/2, 3·base/2), so clients told to come back at the same moment do not all come
 * back at once.
 */
export function jitter(baseMs: number, random: () => number = Math.random): number {
  // floor, not round: the upper end stays excluded, as documented.
  return Math.floor(baseMs * (0.5 + random()));
}
