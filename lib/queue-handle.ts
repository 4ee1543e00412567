import { isValidTopic } from './sse/topics.js';

// Topics never contain `~` (see the topic pattern), so the first one separates the topic from the source's part.
const SEPARATOR = '~';
/** Longest handle accepted back from a client: an SQS receipt handle is up to 1,024 characters. */
export const MAX_HANDLE_LENGTH = 2_048;

/** The handle of a queue message: its topic, then what the source needs to find it (`<topic>~<part>`). */
export function queueHandle(topic: string, part: string): string {
  return `${topic}${SEPARATOR}${part}`;
}

/**
 * Splits a handle a client sent back into its topic and the source's part, or returns undefined when it cannot be a
 * handle this server issued (wrong shape, too long, CR, LF or NUL).
 */
export function parseQueueHandle(handle: string): { topic: string; part: string } | undefined {
  if (handle.length > MAX_HANDLE_LENGTH || /[\r\n\0]/.test(handle)) return undefined;
  const at = handle.indexOf(SEPARATOR);
  if (at <= 0) return undefined;
  const topic = handle.slice(0, at);
  const part = handle.slice(at + 1);
  return isValidTopic(topic) && part !== '' ? { topic, part } : undefined;
}
