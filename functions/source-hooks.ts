import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';

/** What a source may report to besides its return value: the process's logger and metrics (both optional). */
export interface SourceHooks {
  logger?: Logger;
  metrics?: Metrics;
}
