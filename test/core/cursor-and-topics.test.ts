import { describe, expect, it } from '@jest/globals';
import { formatCursor, MAX_CURSOR_LENGTH, parseCursor } from '../../lib/sse/cursor.js';
import { isRelayError } from '../../lib/errors.js';
import { parseTopics } from '../../lib/sse/topics.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isRelayError(error) ? error.code : 'not-a-relay-error';
  }
  return undefined;
}

describe('parseTopics', () => {
  it('accepts repeated and comma-separated topics, dedupes and sorts them', () => {
    expect(parseTopics(['b', 'a,c', 'a'], 16)).toEqual(['a', 'b', 'c']);
  });

  it.each(['', ' ', 'a b', 'a\r\nb', 'a%0d%0a', '-lead', 'x'.repeat(129), 'a/b', 'é', 'a\u2028', 'a\0'])('rejects %j', (bad) => {
    expect(codeOf(() => parseTopics([bad], 16))).toBe('invalid_topic');
  });

  it('requires a topic and caps their number', () => {
    expect(codeOf(() => parseTopics([], 16))).toBe('invalid_topic');
    expect(codeOf(() => parseTopics(['a,b,c'], 2))).toBe('too_many_topics');
  });
});

describe('cursors', () => {
  it('round-trips every topic of a multi-topic subscription', () => {
    const cursor = new Map([['orders', '1700000000000-3'], ['alerts', '17']]);
    const text = formatCursor(cursor);
    expect(text).toBe('alerts=17,orders=1700000000000-3');
    expect(parseCursor(text, ['alerts', 'orders'])).toEqual(cursor);
  });

  it('drops topics the subscription does not name (no replay of foreign topics)', () => {
    expect(parseCursor('a=1,secret=5', ['a'])).toEqual(new Map([['a', '1']]));
  });

  it('treats an empty id as no cursor', () => {
    expect(parseCursor('', ['a']).size).toBe(0);
  });

  it.each(['a', 'a=', '=1', 'a=x', 'a=1,a=2', 'a=1;b=2', 'a=-1', 'a=1-2-3', 'a=1\n', 'a b=1', `a=${'9'.repeat(21)}`])('rejects %j', (bad) => {
    expect(codeOf(() => parseCursor(bad, ['a']))).toBe('invalid_cursor');
  });

  it('rejects an oversized cursor before parsing it', () => {
    expect(codeOf(() => parseCursor('a=1,'.repeat(MAX_CURSOR_LENGTH), ['a']))).toBe('invalid_cursor');
  });
});
