'use strict';
// What the CLI options and the names serverless.yml derives from them must be for AWS to take the stack: checked at
// package time, so a deploy does not stop halfway with a stack to roll back.

// The stage is part of the stack name (letters, digits and hyphens; CloudFormation), the function and queue names.
const STAGE = /^[A-Za-z0-9-]+$/;
// us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, us-isob-east-1, eusc-de-east-1; never an AZ (eu-west-1a).
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

/**
 * The names (function and queue) that hold the stage, from the resolved service, each with its AWS limit (Lambda
 * function names 64 characters, SQS queue names 80). The stage
 * bound is what the longest of them leaves: with service sse-relay, `sse-relay-<stage>-publish` ≤ 64 gives 46.
 */
function generatedNames(service, stage) {
  const names = Object.entries(service.functions || {}).map(([key, fn]) => ({ name: (fn && fn.name) || `${service.service}-${stage}-${key}`, most: 64, what: 'function name' }));
  for (const resource of Object.values((service.resources && service.resources.Resources) || {})) {
    const name = resource && resource.Type === 'AWS::SQS::Queue' && resource.Properties && resource.Properties.QueueName;
    if (typeof name === 'string') names.push({ name, most: 80, what: 'queue name' });
  }
  return names.filter(({ name }) => name.includes(stage));
}

/** The problems with `stage` as messages naming --stage and the bound; empty when AWS takes every name it makes. */
function stageProblems(stage, names) {
  const text = String(stage);
  if (!STAGE.test(text)) return [`--stage "${text}" may hold only letters, digits and hyphens: it is part of the stack, function and queue names`];
  let tightest;
  for (const entry of names) {
    const room = entry.most - (entry.name.length - text.length);
    if (tightest === undefined || room < tightest.room) tightest = { ...entry, room };
  }
  if (tightest === undefined || text.length <= tightest.room) return [];
  return [`--stage "${text}" is ${text.length} characters: the ${tightest.what} ${tightest.name} would be ${tightest.name.length}, and AWS allows ${tightest.most}; use a stage of at most ${tightest.room} characters`];
}

function regionProblems(region) {
  const text = String(region);
  return REGION.test(text) ? [] : [`--region "${text}" is not an AWS region (like us-east-1, eu-west-1 or us-gov-west-1; an availability zone such as eu-west-1a is not one)`];
}

/** Edit distance between two names, case-insensitive (a typo's nearest known parameter). */
function distance(a, b) {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= y.length; j += 1) row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[y.length];
}

/**
 * `--param` names that serverless.yml does not declare (under `params`, any stage): the CLI would pass them on to
 * nothing, silently (`--param=allowedOrigins=…` left the default origin in place). Each with the nearest known name.
 */
function unknownParamProblems(given, known, replaced) {
  const out = [];
  for (const name of new Set(given)) {
    if (known.includes(name) || name in replaced) continue;
    const nearest = [...known].sort((a, b) => distance(name, a) - distance(name, b))[0];
    out.push(`--param ${name} is not a parameter of this template${nearest === undefined ? '' : `; did you mean ${nearest}?`}`);
  }
  return out;
}

/** Every parameter name serverless.yml declares, in any stage's block of `params`. */
function declaredParams(configuration) {
  const params = (configuration && configuration.params) || {};
  return [...new Set(Object.values(params).flatMap((block) => Object.keys(block || {})))];
}

module.exports = { declaredParams, generatedNames, regionProblems, stageProblems, unknownParamProblems };
