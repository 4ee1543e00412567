// What `npm run smoke:lambda` concludes from what it measured: whether the function URL holds small writes, and the
// FLUSH_PADDING_BYTES that pushes them through. Pure, so the decision can be read (and tested) on its own.

/** Probe sizes, bytes of event data: each is sent alone, after the stream was flushed by a large event. */
export const PROBE_SIZES = [1_024, 2_048, 4_096, 8_192, 16_384, 32_768, 60_000];
/** Upper bound of what a probe's frame adds to its data: `id: <cursor>`, `event: smoke-probe`, `data: `, blank line. */
const FRAME_OVERHEAD = 128;
/** Largest padding sse-relay accepts (FLUSH_PADDING_BYTES). */
export const MAX_PADDING = 65_536;

/**
 * @param {{ latenciesMs: (number | null)[], promptMs: number, heartbeatGapsMs: number[], heartbeatMs: number | null,
 *   heartbeatsExpected: boolean, probes: { bytes: number, latencyMs: number | null }[] }} m
 *   latenciesMs: publish → receive of each small event, null = not received within the wait;
 *   probes: the same for each probe size tried (in increasing size).
 * @returns {{ held: boolean, heartbeatsHeld: boolean, paddingBytes: number | null, lines: string[] }}
 */
export function advise(m) {
  const slow = m.latenciesMs.filter((ms) => ms === null || ms > m.promptMs).length;
  const heartbeatsHeld = m.heartbeatsExpected && m.heartbeatGapsMs.length === 0;
  const held = slow > 0 || heartbeatsHeld;
  const lines = [];
  if (!held) {
    lines.push(`small writes are not held: every small event arrived within ${m.promptMs} ms${m.heartbeatsExpected ? ', and heartbeats arrive' : ''}`);
    lines.push('FLUSH_PADDING_BYTES=0 (the default) is fine for this deployment');
    return { held, heartbeatsHeld, paddingBytes: 0, lines };
  }
  lines.push(`small writes are held: ${slow} of ${m.latenciesMs.length} small events took longer than ${m.promptMs} ms or never came${heartbeatsHeld ? ', and no heartbeat arrived' : ''}`);
  const prompt = m.probes.find((p) => p.latencyMs !== null && p.latencyMs <= m.promptMs);
  if (prompt === undefined || prompt.bytes > MAX_PADDING) {
    lines.push(`no probe up to ${m.probes.at(-1)?.bytes ?? 0} bytes went through at once: padding cannot fix this deployment; check what sits between the function URL and the client`);
    return { held, heartbeatsHeld, paddingBytes: null, lines };
  }
  // The probe's frame (its data plus under 128 bytes of id and event lines) went through alone; a padding line at least
  // that long after every batch does the same for a lone heartbeat or a small event. Rounded up to whole KiB.
  const paddingBytes = Math.min(MAX_PADDING, Math.ceil((prompt.bytes + FRAME_OVERHEAD) / 1_024) * 1_024);
  lines.push(`a ${prompt.bytes}-byte event went through at once: set FLUSH_PADDING_BYTES=${paddingBytes} (serverless param flushPaddingBytes=${paddingBytes})`);
  return { held, heartbeatsHeld, paddingBytes, lines };
}
