import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as ClientModule from '../../public/sse-client.js';
import type { RelayClient, StateChangeDetail } from '../../public/sse-client.js';
import { baseUrl, digitsFlag, EXIT, joinNegativeValues, tokenFrom, UsageError, type Command } from './io.js';

export const tail: Command = {
  name: 'tail',
  summary: 'print the events of topics as JSON lines, resuming across reconnects',
  usage: `sse-relay tail --url <base> [--token <jwt>] [--last-event-id <id>] [--count <n>] [--ack] <topic>…

Subscribes to GET /events and prints each event as one JSON line {"id", "event", "data"} (data as the text sent).
It is the browser client (sse-relay/client) running in Node: it reconnects after the relay ends a stream, backs off
on 503 and network errors (honouring Retry-After), and resumes with Last-Event-ID, so no event is missed or repeated.
Status goes to stderr. Stops on Ctrl-C (exit 0).

On a queue source (redis-list, sqs) tail is one more subscriber: it takes messages from the queue. With QUEUE_ACK=client
the relay holds each one until it is acknowledged: without --ack it hands what tail printed to a subscriber again
after QUEUE_ACK_TIMEOUT_MS (tail prints it again, and on SQS each round counts towards maxReceiveCount). With
QUEUE_ACK=auto a message counts as delivered once written to tail's connection: what arrived after the nth of
--count (or while stdout was blocked) is gone; for a lossless tail use QUEUE_ACK=client and --ack.

  --url <base>            the relay, e.g. http://localhost:8080
  --token <jwt>           a token with a subscribe grant (default: $SSE_RELAY_TOKEN)
  --last-event-id <id>    resume after this id (the "id" of a line printed earlier)
  --count <n>             exit 0 after n events
  --ack                   acknowledge each event once printed (POST /ack, QUEUE_ACK=client): the queue drops it
  -h, --help              this text

Exit codes: 0 stopped, 1 refused (401 twice, 403, another 4xx), 2 bad arguments, 141 stdout was closed (| head -1).`,
  run: async (args, env) => {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(args, ['count']), strict: true, allowPositionals: true,
      options: { url: { type: 'string' }, token: { type: 'string' }, 'last-event-id': { type: 'string' }, count: { type: 'string' }, ack: { type: 'boolean' } },
    });
    if (positionals.length === 0) throw new UsageError('at least one <topic> is required');
    const count = values.count === undefined ? Infinity : digitsFlag('count', values.count, { min: 1, example: '10' });
    const { RelayClient: Client } = (await import(clientModule())) as typeof ClientModule;
    const token = tokenFrom(values.token, env);
    const options = { topics: positionals, json: false, ack: values.ack === true, ...(token === undefined ? {} : { token }), lastEventId: values['last-event-id'] ?? '' };
    return follow((lastEventId) => new Client(`${baseUrl(values.url)}/events`, { ...options, lastEventId }), options.lastEventId, count);
  },
};

/**
 * Prints events until `count`, a signal or a refusal. When stdout cannot keep up, the stream is closed and reopened
 * from the last printed id once stdout drains, so memory stays bounded and nothing is skipped.
 */
function follow(open: (lastEventId: string) => RelayClient, from: string, count: number): Promise<number> {
  return new Promise((resolve) => {
    let printed = 0;
    let lastEventId = from;
    let client: RelayClient;
    const finish = (code: number): void => {
      client.close();
      process.off('SIGINT', stop).off('SIGTERM', stop);
      resolve(code);
    };
    const stop = (): void => finish(EXIT.ok);
    const start = (): void => {
      client = open(lastEventId);
      listen(client, (line, id) => {
        lastEventId = id;
        printed += 1;
        const flowing = process.stdout.write(line);
        if (printed >= count) return finish(EXIT.ok);
        if (!flowing) {
          client.close();
          process.stdout.once('drain', start);
        }
      }, finish);
    };
    process.on('SIGINT', stop).on('SIGTERM', stop);
    start();
  });
}

/** Wires the client's events: every server event to `print`, refusals to `fail`, states to stderr. */
function listen(client: RelayClient, print: (line: string, id: string) => void, fail: (code: number) => void): void {
  client.on('*', (data, event) => print(`${JSON.stringify({ id: event.lastEventId, event: event.type, data })}\n`, event.lastEventId));
  client.addEventListener('reset', (e) => process.stderr.write(`sse-relay tail: events were missed (${e.detail.reason})\n`));
  client.addEventListener('statechange', (e) => {
    const detail: StateChangeDetail = e.detail;
    if (detail.state === 'closed') return;
    process.stderr.write(`sse-relay tail: ${describe(detail)}\n`);
    // A CLI cannot fetch a fresh token: a 401 that survived the retry is final, as are 403 and other 4xx.
    if (detail.state === 'forbidden' || detail.state === 'failed' || (detail.state === 'backoff' && detail.status === 401)) fail(EXIT.refused);
  });
}

function describe(detail: StateChangeDetail): string {
  // The relay's message names what was wrong (which topic the token does not allow, why the token was rejected); a 404
  // means --url named a route (…/events) rather than the relay itself.
  const why = detail.status === 404 ? ': --url is the relay\'s base URL, e.g. http://localhost:8080; /events is appended to it'
    : detail.message === undefined ? '' : `: ${detail.message}`;
  const refusal = detail.status === undefined ? '' : ` (${detail.status}${detail.code === undefined ? '' : ` ${detail.code}`}${why})`;
  const wait = detail.delayMs === undefined ? '' : `, next attempt in ${(detail.delayMs / 1000).toFixed(1)} s`;
  return `${detail.state}${refusal}${wait}`;
}

/** public/sse-client.js of this package, from functions/cli/ in the sources and dist/functions/cli/ when built. */
function clientModule(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'public', 'sse-client.js'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('public/sse-client.js not found above the CLI; is the package complete?');
    dir = parent;
  }
  return pathToFileURL(join(dir, 'public', 'sse-client.js')).href;
}
