import { PublishError } from './publish-error.js';

/**
 * `work`, or PublishError `unavailable` saying `what` after `ms`. It stops the wait only: a command or request already
 * sent may still be carried out (retry with the same message `id` to store it once). The timer is cleared when `work`
 * settles and not unref'd: a script awaiting a publish must not exit before it is told the outcome.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new PublishError('unavailable', `${what} gave no answer within timeoutMs (${ms} ms); the wait stopped, but a write already sent may still be stored: retry with the same id`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
