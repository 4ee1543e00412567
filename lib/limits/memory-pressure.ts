/** How the process watches its memory (see ServerConfig: OVERLOAD_MEMORY_BYTES). */
export interface MemoryPressureOptions {
  /** Bytes in use above which the process is under pressure; 0 = never. */
  limitBytes: number;
  /** The bytes in use now: V8's heap in use plus the memory outside it that it tracks (Buffers: queued frames). */
  usedBytes: () => number;
  /** Cuts the streams holding the largest backlogs until about `bytes` are let go (Hub.shedLargestBacklogs). */
  shed: (bytes: number) => { streams: number; bytes: number };
  /** Told after each cut, and when the pressure starts and ends (for the log and metrics). */
  onShed?: (cut: { streams: number; bytes: number }, usedBytes: number) => void;
  onPressure?: (over: boolean, usedBytes: number) => void;
  /** How often memory is read, ms. Default 250. */
  sampleMs?: number;
  now?: () => number;
}

// Buffers a cut stream let go return to the allocator only once V8 collects them: bytes cut within this window are
// counted as on their way out, so one excess is not cut again before its first cut shows.
const SETTLE_MS = 2_000;

/**
 * The last bound on memory, whatever clients do: CONNECTION_BUFFER_BYTES bounds each stream's backlog, but not
 * MAX_CONNECTIONS of them at once (10,000 × 1 MiB by default), as many clients that stop reading, a reconnect storm that
 * replays to every stream, or topic sets that share no frames can queue. Like a proxy's overload manager, it reads the
 * process's memory a few times a second; above the limit it refuses new streams (the admission gate asks refusal())
 * and cuts the streams with the largest backlogs (they resume from their last id) until the excess is let go.
 * Runtime-free: the container passes how memory is read.
 */
export class MemoryPressure {
  private overLimit = false;
  private lastUsed = 0;
  private recentCuts: { at: number; bytes: number }[] = [];
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: MemoryPressureOptions) {
    this.now = options.now ?? Date.now;
    if (options.limitBytes > 0 && options.sampleMs !== 0) {
      this.timer = setInterval(() => this.sample(), options.sampleMs ?? 250);
      this.timer.unref?.();
    }
  }

  /** Why new streams are refused now, or undefined while memory is under the limit. */
  refusal(): string | undefined {
    if (!this.overLimit) return undefined;
    return `memory in use ${mib(this.lastUsed)} is over OVERLOAD_MEMORY_BYTES (${mib(this.options.limitBytes)})`;
  }

  /** Reads memory once: sets the pressure, and cuts backlogs for the excess not already on its way out. */
  sample(): void {
    const { limitBytes } = this.options;
    if (limitBytes <= 0) return;
    const used = this.options.usedBytes();
    this.lastUsed = used;
    const over = used > limitBytes;
    if (over !== this.overLimit) {
      this.overLimit = over;
      this.options.onPressure?.(over, used);
    }
    if (!over) return;
    const now = this.now();
    this.recentCuts = this.recentCuts.filter((cut) => now - cut.at < SETTLE_MS);
    const leaving = this.recentCuts.reduce((sum, cut) => sum + cut.bytes, 0);
    const excess = used - limitBytes - leaving;
    if (excess <= 0) return;
    const cut = this.options.shed(excess);
    if (cut.streams === 0) return;
    this.recentCuts.push({ at: now, bytes: cut.bytes });
    this.options.onShed?.(cut, used);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}
