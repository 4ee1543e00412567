'use strict';
// source=sqs on Lambda: which queue layout the parameters ask for, what is wrong with it, and the per-topic queues the
// stack creates. Every browser stream is a sandbox of its own with its own receiver, so on one shared queue a sandbox
// receives the messages of topics it does not serve and releases them; each release counts as a receive and the
// redrive policy dead-letters live messages (docs/lambda.md, "Queue mode"). One queue per topic removes that.

const { createHash } = require('node:crypto');
const { TOPIC_PATTERN } = require('./runtime-rules.cjs');

const LAYOUTS = ['shared', 'per-topic'];
// What lib/sources/sqs/queue-urls.ts accepts as a topic with SQS_QUEUE_URL_TEMPLATE: a topic (lib/sse/topics.ts) that
// is also a queue-name part. SQS queue names: letters, digits, - and _, at most 80.
const QUEUE_TOPIC = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const QUEUE_PREFIX = /^[A-Za-z0-9_-]{1,79}$/;
const QUEUE_NAME_MAX = 80;
// CloudFormation allows 500 resources per stack; the rest of the stack needs about 30.
const MOST_TOPICS = 200;

/** The topics of `sqsTopics` (comma-separated; blanks dropped). */
function topicList(p) {
  return String(p.sqsTopics ?? '').split(',').map((topic) => topic.trim()).filter((topic) => topic !== '');
}

/** The problems of the source=sqs parameters as messages naming the parameter (and the fix); empty when deployable. */
function queueProblems(p) {
  const layout = p.sqsQueues;
  if (!LAYOUTS.includes(layout)) return [`sqsQueues must be shared or per-topic; got "${layout}"`];
  const topics = topicList(p);
  if (p.source !== 'sqs') {
    return layout === 'per-topic' || topics.length > 0 ? [`sqsQueues=per-topic and sqsTopics apply to source=sqs only; source is "${p.source}"`] : [];
  }
  // Every topic must be one the relay takes (a stream or publish of any other is a 400, and SQS_QUEUE_TOPICS with one
  // stops the functions at init); per-topic queues narrow it further (a queue name).
  const invalid = topics.filter((topic) => !TOPIC_PATTERN.test(topic));
  const notTopics = invalid.map((topic) => `sqsTopics: "${topic}" is not a topic: 1 to 128 letters, digits, _ . : or -, starting with a letter or digit (as the relay checks every topic)`);
  if (layout === 'shared') {
    if (topics.length <= 1) return notTopics;
    return [`source=sqs with sqsQueues=shared and ${topics.length} topics (${topics.join(', ')}) loses messages: each browser stream is a Lambda sandbox of its own, a sandbox releases the messages of topics it does not serve, every release counts as a receive, and the redrive policy moves live messages to the dead-letter queue. Set sqsQueues=per-topic (one queue per topic; docs/lambda.md, "Queue mode")`];
  }
  return notTopics.concat(prefixProblems(p), topicProblems(p, topics.filter((topic) => !invalid.includes(topic))));
}

function prefixProblems(p) {
  const prefix = String(p.sqsQueuePrefix ?? '');
  if (!QUEUE_PREFIX.test(prefix)) return [`sqsQueuePrefix must be 1 to 79 letters, digits, - or _ (the start of every topic queue's name); got "${prefix}"`];
  if (String(p.topicDeadLetterQueue).startsWith(prefix)) {
    return [`sqsQueuePrefix "${prefix}" also matches the dead-letter queue ${p.topicDeadLetterQueue}, which stream could then read as a topic: choose a prefix it does not start with (the default is <service>-<stage>-topic-)`];
  }
  return [];
}

function topicProblems(p, topics) {
  const out = [];
  const prefix = String(p.sqsQueuePrefix ?? '');
  if (topics.length > MOST_TOPICS) out.push(`sqsTopics lists ${topics.length} topics; the stack creates at most ${MOST_TOPICS} queues: create the others outside the stack (docs/lambda.md, "Queue mode")`);
  const seen = new Set();
  for (const topic of topics) {
    if (!QUEUE_TOPIC.test(topic)) out.push(`sqsTopics: "${topic}" cannot name a queue: a topic of its own queue uses letters, digits, - and _ only, and starts with a letter or digit`);
    else if (prefix.length + topic.length > QUEUE_NAME_MAX) out.push(`sqsTopics: the queue name ${prefix}${topic} is longer than SQS's ${QUEUE_NAME_MAX} characters: shorten sqsQueuePrefix or the topic`);
    if (seen.has(topic)) out.push(`sqsTopics lists "${topic}" twice`);
    seen.add(topic);
  }
  return out;
}

/** A logical id that stays the same for a topic whatever the list's order (reordering must not replace queues). */
function logicalId(topic) {
  const hash = createHash('sha256').update(topic).digest('hex').slice(0, 8);
  return `TopicQueue${topic.replace(/[^A-Za-z0-9]/g, '').slice(0, 40)}${hash}`;
}

/** The CloudFormation queues of sqsTopics (sqsQueues=per-topic), each redriving to TopicDeadLetterQueue. */
function topicQueueResources(p) {
  if (p.source !== 'sqs' || p.sqsQueues !== 'per-topic') return {};
  const resources = {};
  for (const topic of topicList(p)) {
    resources[logicalId(topic)] = {
      Type: 'AWS::SQS::Queue',
      Condition: 'TopicQueueMode',
      Properties: {
        QueueName: `${p.sqsQueuePrefix}${topic}`,
        // SQS_VISIBILITY_TIMEOUT_S's default; the source extends it while a message is being written.
        VisibilityTimeout: 30,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['TopicDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 },
      },
    };
  }
  return resources;
}

module.exports = { queueProblems, topicQueueResources, topicList };
