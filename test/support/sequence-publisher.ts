import { publish } from './relay-server.js';

/** What a SequencePublisher did for one topic. */
export interface TopicLog {
  topic: string;
  /** Messages acknowledged (202), seq 0 … acknowledged-1, each exactly once in this order. */
  acknowledged: number;
  /** The stream id each acknowledged seq got, by seq. */
  ids: string[];
  /** Answers that were not 202 (status 0: the request failed), each followed by a retry with the same idempotency id. */
  refused: number[];
  /** Why requests failed (status 0), by message. */
  failures: Record<string, number>;
  /** A message given up on after `giveUpMs` of retries (it breaks the sequence, so a run reporting it has failed). */
  abandoned: number;
}

export interface SequencePublisherOptions {
  /** Base URL that answers POST /publish (a relay, or nginx in front of several). */
  url: string;
  topics: readonly string[];
  /** Messages per second over all topics together. */
  ratePerSecond: number;
  /** Stop retrying one message after this long, ms. Default 30000. */
  giveUpMs?: number;
}

/**
 * Publishes `{"seq":n}` to each topic in order, one request at a time per topic, at an overall paced rate. A message
 * that is not answered 202 (a 503 during a failover, a 502 from nginx while a relay dies, a reset connection) is sent
 * again with the same idempotency id until it is, so every topic's stream holds seq 0, 1, 2 … once each, in order:
 * subscribers can be checked against exactly that.
 */
export function startSequencePublisher(options: SequencePublisherOptions) {
  const { url, topics, ratePerSecond } = options;
  const giveUpMs = options.giveUpMs ?? 30_000;
  const startedAt = Date.now();
  let stopping = false;
  const logs: TopicLog[] = topics.map((topic) => ({ topic, acknowledged: 0, ids: [], refused: [], failures: {}, abandoned: 0 }));
  const sendOne = async (log: TopicLog, seq: number): Promise<boolean> => {
    const key = `${log.topic}-${seq}-${startedAt}`;
    const firstTry = Date.now();
    for (;;) {
      const answer = await publish(url, { topic: log.topic, data: JSON.stringify({ seq }), id: key }).catch((error: Error) => {
        const why = String((error.cause as Error | undefined)?.message ?? error.message);
        log.failures[why] = (log.failures[why] ?? 0) + 1;
        return { status: 0, json: {} as Record<string, unknown> };
      });
      if (answer.status === 202) {
        log.ids.push(String(answer.json.id));
        log.acknowledged++;
        return true;
      }
      log.refused.push(answer.status);
      if (Date.now() - firstTry > giveUpMs) return false;
      await sleep(100);
    }
  };
  const loop = async (log: TopicLog, index: number): Promise<void> => {
    for (let seq = 0; !stopping; seq++) {
      // Message seq of topic `index` is due at (seq × topics + index) / rate: the topics interleave evenly.
      const due = startedAt + ((seq * topics.length + index) * 1_000) / ratePerSecond;
      while (!stopping && Date.now() < due) await sleep(Math.min(50, due - Date.now()));
      if (stopping) return;
      if (!(await sendOne(log, seq))) {
        log.abandoned++;
        return;
      }
    }
  };
  const running = Promise.all(logs.map((log, index) => loop(log, index)));
  return {
    logs,
    /** Messages acknowledged so far over all topics. */
    acknowledged: (): number => logs.reduce((sum, log) => sum + log.acknowledged, 0),
    /** Stops scheduling; resolves once every message in flight was acknowledged (or abandoned). */
    async stop(): Promise<TopicLog[]> {
      stopping = true;
      await running;
      return logs;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
