import { readFileSync } from 'node:fs';
import type { Hub } from '../lib/engine/hub.js';
import { MemoryPressure } from '../lib/limits/memory-pressure.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';

// cgroup v2 (one hierarchy; inside a container's cgroup namespace its own limit is at the root), then v1.
const LIMIT_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];
// cgroup v1 spells "no limit" as the largest page-aligned 64-bit number; anything this large is no limit.
const NO_LIMIT = 2 ** 60;
// OVERLOAD_MEMORY_BYTES=auto: the share of the limit that V8's heap and Buffers may use. The rest is what that count
// leaves out — code, stacks, the allocator's own, socket memory charged to the container — about 45 MiB idle here.
const AUTO_SHARE = 0.75;

/** The container's memory limit in bytes (cgroup v2 `memory.max`, or v1), or undefined where there is none. */
export function containerMemoryLimit(read: (path: string) => string = (path) => readFileSync(path, 'utf8')): number | undefined {
  for (const path of LIMIT_FILES) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    if (text === 'max') return undefined;
    const bytes = Number(text);
    if (Number.isFinite(bytes) && bytes > 0) return bytes >= NO_LIMIT ? undefined : bytes;
  }
  return undefined;
}

/**
 * OVERLOAD_MEMORY_BYTES for one server process: a number as given; `auto` as 75 % of the container's limit divided
 * between the `workers` that share it, or 0 (never) without a limit.
 */
export function overloadMemoryBytes(setting: number | 'auto', workers: number, limit: number | undefined = containerMemoryLimit()): number {
  if (setting !== 'auto') return setting;
  return limit === undefined ? 0 : Math.floor((limit * AUTO_SHARE) / Math.max(1, workers));
}

/**
 * Watches the process's memory (OVERLOAD_MEMORY_BYTES, resolved for `workers` processes): over the limit, the hub cuts
 * its largest backlogs and the admission gate refuses new streams (MemoryPressure). Undefined when the limit is 0.
 */
export function watchMemory(setting: number | 'auto', workers: number, hub: Hub, metrics: Metrics, logger: Logger): MemoryPressure | undefined {
  const limitBytes = overloadMemoryBytes(setting, workers);
  if (limitBytes === 0) return undefined;
  return new MemoryPressure({
    limitBytes,
    usedBytes: () => {
      const { heapUsed, external } = process.memoryUsage();
      return heapUsed + external;
    },
    shed: (bytes) => hub.shedLargestBacklogs(bytes),
    onShed: (cut, usedBytes) => {
      metrics.inc('sse_memory_shed_streams_total', cut.streams);
      logger.warn({ streams: cut.streams, backlogBytes: cut.bytes, usedBytes, limitBytes }, 'memory over OVERLOAD_MEMORY_BYTES: cut the streams with the largest backlogs; they resume from their last id');
    },
    onPressure: (over, usedBytes) => {
      metrics.set('sse_memory_over_limit', over ? 1 : 0);
      logger[over ? 'warn' : 'info']({ usedBytes, limitBytes }, over ? 'memory over OVERLOAD_MEMORY_BYTES: new streams refused' : 'memory back under OVERLOAD_MEMORY_BYTES: new streams accepted');
    },
  });
}
