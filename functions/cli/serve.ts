import { parseArgs } from 'node:util';
import { digitsFlag, EXIT, joinNegativeValues, type Command } from './io.js';

export const serve: Command = {
  name: 'serve',
  summary: 'run the relay server (what `npm start` runs)',
  usage: `sse-relay serve [--demo] [--port <n>]

Runs the container server. Configuration comes from the environment (README, "Configuration"); the options below
override it for this run.

  --demo        run the demo publisher (topic "demo"); auth defaults to off unless a secret or JWKS is set (DEMO=true)
  --port <n>    TCP port (PORT), default 8080; 0 picks a free one
  -h, --help    this text`,
  run: async (args, env) => {
    const { values } = parseArgs({ args: joinNegativeValues(args, ['port']), options: { demo: { type: 'boolean' }, port: { type: 'string' } }, strict: true });
    const overrides: NodeJS.ProcessEnv = {};
    if (values.demo === true) overrides.DEMO = 'true';
    if (values.port !== undefined) overrides.PORT = String(digitsFlag('port', values.port, { min: 0, max: 65_535, example: '8080' }));
    // main() owns the process from here: it exits on SIGTERM/SIGINT or on a configuration error.
    // Imported here: the server pulls in every source and SDK, which the other commands do not need to load.
    const { main } = await import('../server.js');
    await main({ ...env, ...overrides });
    return new Promise<number>(() => EXIT.ok);
  },
};
