import { RelayError } from '../../errors.js';
import { assertTopic } from '../../sse/topics.js';

// SQS queue names allow letters, digits, `-` and `_` only, so in template mode a topic must fit that narrower set.
const QUEUE_NAME_PART = /^[A-Za-z0-9_-]{1,80}$/;
// Longest SQS queue name, `.fifo` included.
const MAX_QUEUE_NAME = 80;

// A template names one queue per topic: an http(s) URL with `{topic}` exactly once (twice would name a queue nobody
// else computes the same way).
const QUEUE_URL_TEMPLATE = /^https?:\/\/[^{}]*\{topic\}[^{}]*$/;

/** What SQS_QUEUE_URL_TEMPLATE (or a producer's queueUrlTemplate) must be, for error messages. */
export const QUEUE_URL_TEMPLATE_FORM = 'an http(s) URL containing {topic} once';

/** True for a queue URL template the relay reads (see {@link QUEUE_URL_TEMPLATE_FORM}). */
export function isQueueUrlTemplate(template: string): boolean {
  return QUEUE_URL_TEMPLATE.test(template);
}

/**
 * Longest topic that still names a valid queue with `template`: the queue name is the URL's last path segment, at most
 * 80 characters with the topic in place of `{topic}` (a longer one names no queue SQS could create, so its topic is a
 * 400, not a 503 for ever).
 */
export function longestTemplateTopic(template: string): number {
  const name = template.slice(template.lastIndexOf('/') + 1);
  // {topic} elsewhere (a host, a path segment) does not lengthen the queue name; the topic pattern bounds it then.
  if (!name.includes('{topic}')) return MAX_QUEUE_NAME;
  return MAX_QUEUE_NAME - (name.length - '{topic}'.length);
}

/** Whether `topic` can name a queue through `template` (letters, digits, - and _, short enough). */
export function isTemplateTopic(template: string, topic: string): boolean {
  return QUEUE_NAME_PART.test(topic) && topic.length <= longestTemplateTopic(template);
}

/** Where a subscription's topics live: one entry per queue, with the topics read from it. */
export interface QueuePlan {
  queueUrl: string;
  topics: string[];
  /** True when several topics share this queue, so messages carry a `topic` attribute and are filtered by it. */
  shared: boolean;
  /** FIFO queue (URL ends in `.fifo`): publishes need a MessageGroupId and a deduplication id. */
  fifo: boolean;
}

/**
 * Where the topics' queues are: every topic on one queue (`SQS_QUEUE_URL`), or one queue per topic
 * (`SQS_QUEUE_URL_TEMPLATE`, containing `{topic}`); `topics`, when set, the only topics they serve
 * (`SQS_QUEUE_TOPICS`). lib/config's requireSqsQueues builds it from the configuration.
 */
export type SqsQueues = ({ kind: 'shared'; url: string } | { kind: 'per-topic'; template: string }) & { topics?: readonly string[] | undefined };

/** Maps topics to queue URLs as {@link SqsQueues} says. Topics are validated before they reach a URL. */
export class SqsQueueUrls {
  private readonly served: ReadonlySet<string> | undefined;

  constructor(private readonly queues: SqsQueues) {
    this.served = queues.topics === undefined ? undefined : new Set(queues.topics);
  }

  /** True when every topic shares one queue and messages are told apart by their `topic` attribute. */
  get shared(): boolean {
    return this.queues.kind === 'shared';
  }

  /** The queue URL of `topic`; throws `invalid_topic` when the topic cannot name a queue or is not one served. */
  urlOf(topic: string): string {
    assertTopic(topic);
    // Refused before any receive: on a shared queue, a stream of a topic nobody publishes would take the served
    // topics' messages and release them, and every release counts towards the redrive policy's maxReceiveCount.
    if (this.served !== undefined && !this.served.has(topic)) {
      throw new RelayError('invalid_topic', 'the topic is not one of SQS_QUEUE_TOPICS, the topics this relay\'s queues serve');
    }
    if (this.queues.kind === 'shared') return this.queues.url;
    if (!isTemplateTopic(this.queues.template, topic)) {
      const longest = longestTemplateTopic(this.queues.template);
      throw new RelayError('invalid_topic', `with SQS_QUEUE_URL_TEMPLATE a topic may use only letters, digits, - and _, at most ${longest} of them (a queue name has at most 80 characters)`);
    }
    return this.queues.template.replace('{topic}', topic);
  }

  /** The queues to read for a subscription, each with its topics. */
  plan(topics: readonly string[]): QueuePlan[] {
    const byUrl = new Map<string, string[]>();
    for (const topic of topics) {
      const url = this.urlOf(topic);
      byUrl.set(url, [...(byUrl.get(url) ?? []), topic]);
    }
    return [...byUrl].map(([queueUrl, queueTopics]) => ({
      queueUrl, topics: queueTopics, shared: this.shared, fifo: isFifoQueue(queueUrl),
    }));
  }
}

/** True for a FIFO queue URL (its name ends in `.fifo`). */
export function isFifoQueue(queueUrl: string): boolean {
  return queueUrl.endsWith('.fifo');
}

// SQS queue URLs name their region: https://sqs.<region>.amazonaws.com/<account>/<name> (emulators copy the form).
const QUEUE_URL_REGION = /^https?:\/\/sqs\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\./;

/**
 * The region a queue URL (or template) names, or undefined. A queue lives in one region and requests to it are signed
 * for that region, so it is the region to use when AWS_REGION is not set; the SDK's own chain reads AWS_REGION and
 * ~/.aws/config only (not AWS_DEFAULT_REGION), and without a region every call fails with "Region is missing".
 */
export function regionOfQueueUrl(url: string): string | undefined {
  return QUEUE_URL_REGION.exec(url)?.[1];
}
