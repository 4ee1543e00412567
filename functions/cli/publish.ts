import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
// Not the publisher's index: that would load the Redis and SQS clients on every run.
import { httpTransport } from '../../publisher/http-transport.js';
import { PublishError } from '../../publisher/publish-error.js';
import { createPublisher } from '../../publisher/publisher.js';
import { baseUrl, EXIT, tokenFrom, UsageError, type Command } from './io.js';

export const publish: Command = {
  name: 'publish',
  summary: 'publish one message, or one per line of stdin',
  usage: `sse-relay publish --url <base> [--token <jwt>] [--event <type>] [--id <key>] [--retries <n>] <topic> [data]

Sends POST /publish and prints the id the relay gave each message, one per line. Without [data], every line of
stdin is one message (empty lines are skipped). Data is sent as text, exactly as given. 429 and 503 are retried
after Retry-After.

  --url <base>     the relay, e.g. http://localhost:8080
  --token <jwt>    a token with a publish grant (default: $SSE_RELAY_TOKEN)
  --event <type>   the SSE event type (default: message)
  --id <key>       idempotency key; with stdin, line n gets <key>-<n>, so re-running a script stores nothing twice
  --retries <n>    attempts after the first on 429, 503 and network errors (default 5)
  -h, --help       this text

Exit codes: 0 published, 1 refused by the relay (the message is printed), 2 bad arguments, 3 relay unreachable.`,
  run: async (args, env) => {
    const { values, positionals } = parseArgs({
      args, strict: true, allowPositionals: true,
      options: { url: { type: 'string' }, token: { type: 'string' }, event: { type: 'string' }, id: { type: 'string' }, retries: { type: 'string' } },
    });
    const retries = Number(values.retries ?? 5);
    if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`--retries must be a whole number ≥ 0; got ${values.retries}`);
    const [topic, data, ...extra] = positionals;
    if (topic === undefined) throw new UsageError('<topic> is required');
    if (extra.length > 0) throw new UsageError('one <topic> and at most one [data]; quote data that has spaces');
    const publisher = createPublisher(httpTransport({ url: baseUrl(values.url), token: tokenFrom(values.token, env), retries }));
    const send = async (text: string, id: string | undefined): Promise<void> => {
      const { id: published } = await publisher.publish(topic, text, { ...(values.event === undefined ? {} : { event: values.event }), ...(id === undefined ? {} : { id }) });
      process.stdout.write(`${published}\n`);
    };
    try {
      if (data !== undefined) await send(data, values.id);
      else await publishLines(send, values.id);
    } catch (error) {
      return failure(error);
    }
    return EXIT.ok;
  },
};

async function publishLines(send: (text: string, id: string | undefined) => Promise<void>, idPrefix: string | undefined): Promise<void> {
  let line = 0;
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    line += 1;
    if (text === '') continue;
    await send(text, idPrefix === undefined ? undefined : `${idPrefix}-${line}`);
  }
}

function failure(error: unknown): number {
  if (!(error instanceof PublishError)) throw error;
  process.stderr.write(`sse-relay publish: ${error.message}${error.code === 'unavailable' ? '' : ` (${error.code})`}\n`);
  const refused = error.status !== undefined && error.status >= 400 && error.status < 500 && error.status !== 429;
  return refused || (error.status === undefined && error.code !== 'unavailable') ? EXIT.refused : EXIT.unavailable;
}

