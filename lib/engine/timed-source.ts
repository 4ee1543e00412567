import type { Metrics } from '../metrics.js';
import type { BroadcastSource, StoredMessage } from '../source.js';

// Redis stream ids start with the Redis server's clock in ms: `1700000000000-0`.
const STREAM_ID = /^(\d{10,15})-\d+$/;

/** When a message was published, epoch ms: its own stamp (memory) or the time inside a stream id (Redis). */
export function publishedAt(message: StoredMessage): number | undefined {
  if (message.publishedAt !== undefined) return message.publishedAt;
  const match = STREAM_ID.exec(message.position);
  return match === null ? undefined : Number(match[1]);
}

/**
 * `source` with its live feed timed: each message handed to the hub notes its publish time, and the hub's next write
 * pass turns it into sse_delivery_latency_seconds (see Metrics.awaitWrite). One clock-free step per message; nothing
 * per connection.
 */
export function timedSource(source: BroadcastSource, metrics: Metrics): BroadcastSource {
  return {
    delivery: 'broadcast',
    publish: (topic, message) => source.publish(topic, message),
    head: (topic) => source.head(topic),
    acceptsPosition: (position) => source.acceptsPosition(position),
    ...(source.positionAfterRestart === undefined ? {} : { positionAfterRestart: source.positionAfterRestart }),
    replay: (topic, after, until, limit, maxBytes) => source.replay(topic, after, until, limit, maxBytes),
    openFeed: (listener, onError) => source.openFeed((message) => {
      listener(message);
      const at = publishedAt(message);
      if (at !== undefined) metrics.awaitWrite(at);
    }, onError),
    isReady: () => source.isReady(),
    close: () => source.close(),
  };
}
