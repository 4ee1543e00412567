import base from './jest.config.js';

/**
 * `npm run test:unit`: the suites in test/core/ only. They start no server and no child process (no redis-server,
 * nginx, Chromium, SQS emulator or Lambda runtime) and need no dist/, so there is no globalSetup build;
 * test/core/unit-run.test.ts keeps them that way. Everything else runs in `npm test`.
 */
export default {
  ...base,
  globalSetup: undefined,
  testMatch: ['<rootDir>/test/core/**/*.test.ts'],
};
