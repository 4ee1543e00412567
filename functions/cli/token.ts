import { parseArgs } from 'node:util';
import { ConfigError, loadSigningSecret } from '../../lib/config/index.js';
import { parseTtl, signToken } from '../../publisher/token.js';
import { EXIT, UsageError, type Command } from './io.js';

export const token: Command = {
  name: 'token',
  summary: 'print an HS256 token signed with AUTH_JWT_SECRET (for development)',
  usage: `sse-relay token [--subscribe <pattern>…] [--publish <pattern>…] [--ttl <10m|1h|…>] [--sub <subject>]
                 [--aud <audience>] [--iss <issuer>]

Prints a JWT with the claim {"sse": {"subscribe": […], "publish": […]}}, signed with AUTH_JWT_SECRET from the
environment. Patterns: a topic (orders), a prefix (user.123.*) or * (docs/security.md).

  --subscribe <pattern>…  topics the token may read (--subscribe a b, or --subscribe a --subscribe b)
  --publish <pattern>…    topics the token may write (likewise)
  --ttl <duration>        lifetime: 90, 90s, 10m, 1h, 7d (default 1h)
  --sub, --aud, --iss     the sub, aud and iss claims (set aud/iss when the relay sets AUTH_AUDIENCE/AUTH_ISSUER)
  -h, --help              this text

Example: export SSE_RELAY_TOKEN=$(AUTH_JWT_SECRET=… sse-relay token --publish 'orders' --ttl 10m)`,
  run: async (args, env) => {
    const { values, grants } = parseTokenArgs(args);
    const secret = signingSecret(env);
    if (grants.subscribe.length === 0 && grants.publish.length === 0) throw new UsageError('give at least one --subscribe or --publish pattern');
    const ttl = values.ttl ?? '1h';
    let jwt: string;
    try {
      parseTtl(ttl);
      jwt = await signToken({
        secret, ttl, subscribe: grants.subscribe, publish: grants.publish,
        ...(values.sub === undefined ? {} : { subject: values.sub }), ...(values.aud === undefined ? {} : { audience: values.aud }),
        ...(values.iss === undefined ? {} : { issuer: values.iss }),
      });
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
    process.stdout.write(`${jwt}\n`);
    return EXIT.ok;
  },
};

const OPTIONS = {
  subscribe: { type: 'string', multiple: true }, publish: { type: 'string', multiple: true }, ttl: { type: 'string' },
  sub: { type: 'string' }, aud: { type: 'string' }, iss: { type: 'string' },
} as const;

/**
 * The options, with the patterns of each grant: `--subscribe a b` (the `<pattern>…` of the usage line) as well as
 * `--subscribe a --subscribe b`. A bare word belongs to the --subscribe or --publish before it; anywhere else it is an
 * error, so `--ttl 10m orders` is not silently read as a grant.
 */
function parseTokenArgs(args: string[]) {
  const { values, tokens } = parseArgs({ args, strict: true, allowPositionals: true, tokens: true, options: OPTIONS });
  const grants = { subscribe: [] as string[], publish: [] as string[] };
  let grant: keyof typeof grants | undefined;
  for (const token of tokens) {
    if (token.kind === 'option') grant = token.name === 'subscribe' || token.name === 'publish' ? token.name : undefined;
    const pattern = token.kind === 'option' ? token.value : token.kind === 'positional' ? token.value : undefined;
    if (token.kind === 'positional' && grant === undefined) throw new UsageError(`unexpected argument '${token.value}': patterns follow --subscribe or --publish`);
    if (grant !== undefined && pattern !== undefined) grants[grant].push(pattern);
  }
  return { values, grants };
}

// The relay's own rule (lib/config), reported as a usage error: exit code 2 and the usage text.
function signingSecret(env: NodeJS.ProcessEnv): string {
  try {
    return loadSigningSecret(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
