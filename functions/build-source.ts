import type { Config } from '../lib/config/index.js';
import type { Source } from '../lib/source.js';
import { MemorySource } from '../lib/sources/memory.js';

/** The source SOURCE names, with its client built from the configuration. */
export async function buildSource(config: Config): Promise<Source> {
  switch (config.server.source) {
    case 'memory':
      return new MemorySource(config.server.memoryBufferSize);
    default:
      throw new Error(`SOURCE=${config.server.source} is not available in this build`);
  }
}
