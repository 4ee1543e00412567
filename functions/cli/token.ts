import { parseArgs } from 'node:util';
import { ConfigError, loadSigningSecret } from '../../lib/config/index.js';
import { parseTtl, signToken } from '../../publisher/token.js';
import { EXIT, UsageError, type Command } from './io.js';

export const token: Command = {
  name: 'token',
  summary: 'print an HS256 token signed with AUTH_JWT_SECRET (for development)',
  usage: `sse-relay token [--subscribe <pattern>]… [--publish <pattern>]… [--ttl <10m|1h|…>] [--sub <subject>]
                 [--aud <audience>] [--iss <issuer>]

Prints a JWT with the claim {"sse": {"subscribe": […], "publish": […]}}, signed with AUTH_JWT_SECRET from the
environment. Patterns: a topic (orders), a prefix (user.123.*) or * (docs/security.md).

  --subscribe <pattern>   topics the token may read (repeatable)
  --publish <pattern>     topics the token may write (repeatable)
  --ttl <duration>        lifetime: 90, 90s, 10m, 1h, 7d (default 1h)
  --sub, --aud, --iss     the sub, aud and iss claims (set aud/iss when the relay sets AUTH_AUDIENCE/AUTH_ISSUER)
  -h, --help              this text

Example: export SSE_RELAY_TOKEN=$(AUTH_JWT_SECRET=… sse-relay token --publish 'orders' --ttl 10m)`,
  run: async (args, env) => {
    const { values } = parseArgs({
      args, strict: true,
      options: {
        subscribe: { type: 'string', multiple: true }, publish: { type: 'string', multiple: true }, ttl: { type: 'string' },
        sub: { type: 'string' }, aud: { type: 'string' }, iss: { type: 'string' },
      },
    });
    const secret = signingSecret(env);
    if ((values.subscribe ?? []).length === 0 && (values.publish ?? []).length === 0) throw new UsageError('give at least one --subscribe or --publish pattern');
    const ttl = values.ttl ?? '1h';
    let jwt: string;
    try {
      parseTtl(ttl);
      jwt = await signToken({
        secret, ttl, subscribe: values.subscribe ?? [], publish: values.publish ?? [],
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

// The relay's own rule (lib/config), reported as a usage error: exit code 2 and the usage text.
function signingSecret(env: NodeJS.ProcessEnv): string {
  try {
    return loadSigningSecret(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
