import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
// Not the publisher's index: that would load the Redis and SQS clients on every run.
import { httpTransport, type HttpRetry } from '../../publisher/http-transport.js';
import { PublishError } from '../../publisher/publish-error.js';
import { createPublisher } from '../../publisher/publisher.js';
import { baseUrl, digitsFlag, EXIT, joinNegativeValues, tokenFrom, UsageError, type Command } from './io.js';

export const publish: Command = {
  name: 'publish',
  summary: 'publish one message, or one per line of stdin',
  usage: `sse-relay publish --url <base> [--token <jwt>] [--event <type>] [--id <key>] [--retries <n>] <topic> [data]

Sends POST /publish and prints the id the relay gave each message, one per line. Without [data], every line of
stdin is one message (empty lines are skipped); a refused line is named by its number. Data is sent as text,
exactly as given. 429 and 503 are retried after Retry-After, each retry announced on stderr: stdout has the ids only.

  --url <base>     the relay, e.g. http://localhost:8080
  --token <jwt>    a token with a publish grant (default: $SSE_RELAY_TOKEN)
  --event <type>   the SSE event type (default: message)
  --id <key>       idempotency key; with stdin, line n gets <key>-<n>, so re-running a script stores nothing twice
  --retries <n>    attempts after the first on 429, 503 and network errors (default 5)
  -h, --help       this text

Exit codes: 0 published, 1 refused by the relay (the message is printed), 2 bad arguments, 3 relay unreachable,
141 stdout was closed (| head -1): the lines after it are not published.`,
  run: async (args, env) => {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(args, ['retries']), strict: true, allowPositionals: true,
      options: { url: { type: 'string' }, token: { type: 'string' }, event: { type: 'string' }, id: { type: 'string' }, retries: { type: 'string' } },
    });
    const retries = digitsFlag('retries', values.retries ?? '5', { min: 0, example: '5' });
    const [topic, data, ...extra] = positionals;
    if (topic === undefined) throw new UsageError('<topic> is required');
    if (extra.length > 0) throw new UsageError('one <topic> and at most one [data]; quote data that has spaces');
    const publisher = createPublisher(httpTransport({ url: baseUrl(values.url), token: tokenFrom(values.token, env), retries, onRetry: reportRetry }));
    const send = async (text: string, id: string | undefined): Promise<void> => {
      const { id: published } = await publisher.publish(topic, text, { ...(values.event === undefined ? {} : { event: values.event }), ...(id === undefined ? {} : { id }) });
      // stdout is data only (one id per line, for scripts); progress and errors go to stderr.
      if (!process.stdout.write(`${published}\n`)) await once(process.stdout, 'drain');
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

/** One message per line of stdin; a refusal names its line, so the one to fix can be found in a long input. */
async function publishLines(send: (text: string, id: string | undefined) => Promise<void>, idPrefix: string | undefined): Promise<void> {
  let line = 0;
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    line += 1;
    if (text === '') continue;
    try {
      await send(text, idPrefix === undefined ? undefined : `${idPrefix}-${line}`);
    } catch (error) {
      if (!(error instanceof PublishError)) throw error;
      const before = line === 1 ? '' : `; lines 1–${line - 1} were published (their ids are on stdout)`;
      throw new PublishError(error.code, `line ${line} of stdin: ${error.message}${before}`, error.status, { cause: error });
    }
  }
}

/** A retry of the http transport, on stderr: a publish that waits out a 503 says so instead of looking hung. */
function reportRetry({ attempt, attempts, delayMs, error }: HttpRetry): void {
  process.stderr.write(`sse-relay publish: ${error.message}; attempt ${attempt} of ${attempts} in ${(delayMs / 1000).toFixed(1)} s\n`);
}

function failure(error: unknown): number {
  if (!(error instanceof PublishError)) throw error;
  process.stderr.write(`sse-relay publish: ${error.message}${error.code === 'unavailable' ? '' : ` (${error.code})`}\n`);
  const refused = error.status !== undefined && error.status >= 400 && error.status < 500 && error.status !== 429;
  return refused || (error.status === undefined && error.code !== 'unavailable') ? EXIT.refused : EXIT.unavailable;
}

