import type { Logger } from '../logger.js';
import type { OutgoingMessage } from '../source.js';

const NAMES = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia'];
const ALERTS = ['CPU above 80% on worker-2', 'Queue depth rising', 'Disk 90% full on db-1', 'Latency back to normal'];

/** Something that accepts messages: the source, in practice. */
export interface Publisher {
  publish(topic: string, message: OutgoingMessage): Promise<unknown>;
}

/**
 * Publishes sample records on the `demo` topic every `intervalMs` (a name, a running count, a timestamp), and every
 * `alertEvery`-th tick a `system-alert` event, so `npm start` shows live data with no producer of one's own.
 * Returns a function that stops it.
 */
export function startDemoPublisher(publisher: Publisher, logger: Logger, intervalMs = 1_000, alertEvery = 7): () => void {
  let count = 0;
  const timer = setInterval(() => {
    count += 1;
    const record = { name: NAMES[Math.floor(Math.random() * NAMES.length)], count, timestamp: new Date().toISOString() };
    const sends: Promise<unknown>[] = [publisher.publish('demo', { event: 'record', data: JSON.stringify(record) })];
    if (count % alertEvery === 0) {
      const alert = { level: count % (alertEvery * 2) === 0 ? 'warning' : 'info', message: ALERTS[(count / alertEvery) % ALERTS.length] };
      sends.push(publisher.publish('demo', { event: 'system-alert', data: JSON.stringify(alert) }));
    }
    Promise.all(sends).catch((error: unknown) => logger.warn({ err: error }, 'demo publish failed'));
  }, intervalMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
