import { isValidTopic } from '../sse/topics.js';

/**
 * The topic pattern language of the token claim `sse: { subscribe: [...], publish: [...] }`. A pattern is one of:
 *
 * - `*` — every topic;
 * - a topic name (`orders`) — exactly that topic;
 * - a prefix ending in `*` (`user.123.*`, `tenant:7:*`) — every topic that starts with the prefix and has at least one
 *   more character. The prefix (without the `*`) must itself be a valid topic name, so `user.123.*` matches
 *   `user.123.inbox` but not `user.123` and not `user.1234`.
 *
 * `*` anywhere else, and any character outside the topic charset, makes the pattern — and so the token — invalid: a
 * pattern can only ever name topics that {@link isValidTopic} accepts.
 */
export type TopicPattern = string;

/** Most patterns accepted per list in one token; more is treated as a malformed token. */
export const MAX_PATTERNS = 256;

/** A compiled list of patterns: `matches(topic)` is true when any pattern covers the topic. */
export interface TopicMatcher {
  matches(topic: string): boolean;
  /** False when no topic at all matches (an absent or empty list): the request can be refused before its body is read. */
  readonly matchesAny: boolean;
}

/** True when `pattern` is a well-formed pattern of the language above. */
export function isValidPattern(pattern: unknown): pattern is TopicPattern {
  if (typeof pattern !== 'string') return false;
  if (pattern === '*') return true;
  const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  return isValidTopic(prefix);
}

/**
 * Compiles a claim value (an array of patterns, or absent = nothing allowed). Returns undefined when the value is
 * malformed (not an array, too long, or a pattern that is not in the language), so the caller can reject the token.
 */
export function compilePatterns(value: unknown): TopicMatcher | undefined {
  if (value === undefined) return { matches: () => false, matchesAny: false };
  if (!Array.isArray(value) || value.length > MAX_PATTERNS || !value.every(isValidPattern)) return undefined;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let everything = false;
  for (const pattern of value as TopicPattern[]) {
    if (pattern === '*') everything = true;
    else if (pattern.endsWith('*')) prefixes.push(pattern.slice(0, -1));
    else exact.add(pattern);
  }
  return {
    matches: (topic) =>
      everything || exact.has(topic) || prefixes.some((prefix) => topic.length > prefix.length && topic.startsWith(prefix)),
    matchesAny: everything || exact.size > 0 || prefixes.length > 0,
  };
}
