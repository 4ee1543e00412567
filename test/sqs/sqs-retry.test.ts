import { describe, expect, it } from '@jest/globals';
import { backoffMs, classifySqsError } from '../../lib/sources/sqs/retry.js';

describe('receive backoff', () => {
  it('doubles its ceiling from the base and never passes the cap (full jitter below it)', () => {
    const settings = { baseMs: 100, capMs: 1_000 };
    expect([0, 1, 2, 3, 4, 40].map((attempt) => backoffMs(attempt, settings, () => 0.999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffMs(3, settings, () => 0)).toBe(0);
  });
});

describe('classifySqsError', () => {
  const named = (name: string): Error => Object.assign(new Error(name), { name });
  it('sorts SDK errors into what the consumer does with them', () => {
    expect(classifySqsError(named('QueueDoesNotExist'))).toBe('missing-queue');
    expect(classifySqsError(Object.assign(new Error('x'), { Code: 'AWS.SimpleQueueService.NonExistentQueue' }))).toBe('missing-queue');
    expect(classifySqsError(named('AccessDenied'))).toBe('permanent');
    expect(classifySqsError(named('KmsAccessDenied'))).toBe('permanent');
    expect(classifySqsError(Object.assign(new Error('x'), { Code: 'AWS.SimpleQueueService.KmsDisabled' }))).toBe('permanent');
    expect(classifySqsError(named('KmsThrottled'))).toBe('transient');
    expect(classifySqsError(named('ThrottlingException'))).toBe('transient');
    expect(classifySqsError(named('ECONNRESET'))).toBe('transient');
    expect(classifySqsError(named('AbortError'))).toBe('aborted');
    expect(classifySqsError(named('ThrottlingException'), AbortSignal.abort())).toBe('aborted');
  });
});
