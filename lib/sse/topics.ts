import { RelayError } from '../errors.js';

/**
 * The one pattern every topic name matches before it reaches a source, a Redis key, a queue URL, a header or a log:
 * 1 to 128 characters, letters, digits, `_`, `.`, `:` and `-`, starting with a letter or digit.
 */
export const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** True when `topic` is a valid topic name. */
export function isValidTopic(topic: string): boolean {
  return TOPIC_PATTERN.test(topic);
}

/** Throws `invalid_topic` unless `topic` matches {@link TOPIC_PATTERN}. The bad value is never echoed. */
export function assertTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || !isValidTopic(topic)) {
    throw new RelayError('invalid_topic', 'topic must match ' + TOPIC_PATTERN.source);
  }
}

/**
 * The topics of a subscription: each `topic` parameter, and comma-separated lists in one. Duplicates collapse; the
 * result is sorted, so the same set always has the same cursor layout and hub key.
 */
export function parseTopics(values: readonly string[], maxTopics: number): string[] {
  const topics = new Set<string>();
  for (const value of values) {
    for (const topic of value.split(',')) {
      assertTopic(topic);
      topics.add(topic);
    }
  }
  if (topics.size === 0) throw new RelayError('invalid_topic', 'at least one topic parameter is required');
  if (topics.size > maxTopics) {
    throw new RelayError('too_many_topics', `a subscription may name at most ${maxTopics} topics (MAX_TOPICS)`);
  }
  return [...topics].sort();
}
