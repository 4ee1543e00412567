import type { Config } from '../lib/config/index.js';
import type { Source } from '../lib/source.js';
import { MemorySource } from '../lib/sources/memory.js';
import type { SourceHooks } from './source-hooks.js';

/**
 * The source SOURCE names, with its client built from the configuration. Each client is imported only when its source
 * is configured: a Lambda cold start then parses ioredis or the SQS client only where it is used (issue #17, point 4;
 * serverless.yml splits them into chunks of their own).
 */
export async function buildSource(config: Config, hooks: SourceHooks = {}): Promise<Source> {
  switch (config.server.source) {
    case 'memory':
      return new MemorySource(config.server.memoryBufferSize, config.server.memoryMaxBytes);
    case 'sqs':
      return (await import('./build-sqs-source.js')).buildSqsSource(config, hooks);
    case 'redis':
    case 'redis-list':
      return (await import('./build-redis-source.js')).buildRedisSource(config, hooks);
  }
}
