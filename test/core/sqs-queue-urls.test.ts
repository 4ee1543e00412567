import { describe, expect, it } from '@jest/globals';
import { regionOfQueueUrl, SqsQueueUrls } from '../../lib/sources/sqs/queue-urls.js';

const SHARED = 'https://sqs.eu-west-1.amazonaws.com/123456789012/events';
const TEMPLATE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/events-{topic}';

describe('SqsQueueUrls', () => {
  it('maps every topic to the shared queue, and each to its own with a template', () => {
    expect(new SqsQueueUrls({ kind: 'shared', url: SHARED }).plan(['a', 'b'])).toEqual([{ queueUrl: SHARED, topics: ['a', 'b'], shared: true, fifo: false }]);
    expect(new SqsQueueUrls({ kind: 'per-topic', template: TEMPLATE }).plan(['a', 'b']).map((p) => p.queueUrl))
      .toEqual([TEMPLATE.replace('{topic}', 'a'), TEMPLATE.replace('{topic}', 'b')]);
  });

  it('refuses a topic that cannot be part of a queue name with a template', () => {
    expect(() => new SqsQueueUrls({ kind: 'per-topic', template: TEMPLATE }).urlOf('a.b')).toThrow(expect.objectContaining({ code: 'invalid_topic' }));
  });

  it('refuses, as invalid_topic, a topic that would make the queue name longer than SQS\'s 80 characters', () => {
    // `events-` leaves 73 characters; a longer topic names no queue SQS could create: a 400, not a 503 for ever.
    const urls = new SqsQueueUrls({ kind: 'per-topic', template: TEMPLATE });
    expect(urls.urlOf('x'.repeat(73))).toBe(TEMPLATE.replace('{topic}', 'x'.repeat(73)));
    expect(() => urls.urlOf('x'.repeat(74))).toThrow(expect.objectContaining({ code: 'invalid_topic', status: 400 }));
    expect(() => urls.urlOf('x'.repeat(74))).toThrow(/at most 73/);
    const fifo = new SqsQueueUrls({ kind: 'per-topic', template: 'https://sqs/1/e-{topic}.fifo' });
    expect(fifo.urlOf('x'.repeat(73))).toBe(`https://sqs/1/e-${'x'.repeat(73)}.fifo`);
    expect(() => fifo.urlOf('x'.repeat(74))).toThrow(expect.objectContaining({ code: 'invalid_topic' }));
  });

  it('with topics listed (SQS_QUEUE_TOPICS), refuses every other topic, alone or in a subscription, in either layout', () => {
    for (const queues of [{ kind: 'shared' as const, url: SHARED }, { kind: 'per-topic' as const, template: TEMPLATE }]) {
      const urls = new SqsQueueUrls({ ...queues, topics: ['orders', 'alerts'] });
      expect(urls.plan(['alerts', 'orders']).flatMap((p) => p.topics)).toEqual(['alerts', 'orders']);
      expect(() => urls.urlOf('other')).toThrow(/SQS_QUEUE_TOPICS/);
      expect(() => urls.plan(['orders', 'other'])).toThrow(expect.objectContaining({ code: 'invalid_topic', status: 400 }));
      // Exact names only: no prefix or case folding.
      for (const near of ['order', 'Orders', 'orders2']) expect(() => urls.urlOf(near)).toThrow(expect.objectContaining({ code: 'invalid_topic' }));
    }
  });

  it('reads the region a queue URL or template names, and nothing from other URLs', () => {
    expect(regionOfQueueUrl(SHARED)).toBe('eu-west-1');
    expect(regionOfQueueUrl(TEMPLATE)).toBe('eu-west-1');
    expect(regionOfQueueUrl('https://sqs.us-gov-west-1.amazonaws.com/1/q')).toBe('us-gov-west-1');
    expect(regionOfQueueUrl('http://sqs.ap-southeast-2.localhost:4566/000000000000/q')).toBe('ap-southeast-2');
    for (const other of ['https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com/1/q', 'http://localhost:4566/000000000000/q', 'https://sqs.amazonaws.com/1/q', '']) {
      expect(regionOfQueueUrl(other)).toBeUndefined();
    }
  });
});
