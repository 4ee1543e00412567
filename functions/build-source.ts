import type { Config } from '../lib/config/index.js';
import type { Source } from '../lib/source.js';
import { MemorySource } from '../lib/sources/memory.js';
import { buildRedisSource } from './build-redis-source.js';
import { buildSqsSource, type SourceHooks } from './build-sqs-source.js';

/** The source SOURCE names, with its client built from the configuration. */
export async function buildSource(config: Config, hooks: SourceHooks = {}): Promise<Source> {
  switch (config.server.source) {
    case 'memory':
      return new MemorySource(config.server.memoryBufferSize);
    case 'sqs':
      return buildSqsSource(config, hooks);
    case 'redis':
    case 'redis-list':
      return buildRedisSource(config, hooks);
    default:
      throw new Error(`SOURCE=${config.server.source} is not available in this build`);
  }
}
