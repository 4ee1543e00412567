'use strict';
// sse-relay's package-time checks and derived settings (serverless v4 and osls/v3 alike). It runs before anything is
// packaged, so `serverless package` and `serverless deploy` fail with one message naming the parameter when the
// chosen source and auth mode lack what they need, and never put a secret's value into the template.

const { existsSync, readdirSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { isSecretRef, secretArn } = require('./secret-arns.cjs');
const { queueProblems, topicList, topicQueueResources } = require('./topic-queues.cjs');
const { FLUSH_PADDING_RANGE, isExactOrigin, jwksUrlProblem, readInteger, redactUrl, redisUrlProblem } = require('./runtime-rules.cjs');
const { declaredParams, generatedNames, regionProblems, stageProblems, unknownParamProblems } = require('./stack-names.cjs');

const SOURCES = ['redis', 'redis-list', 'sqs'];
const SWITCHES = ['none', 'enabled'];
// LOG_LEVEL's values (lib/logger.ts LOG_LEVELS; test/lambda/serverless-package.test.ts keeps the two equal). Any other
// value packages and deploys, and then every function stops at init: a 500 to every request.
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
// Parameters of earlier versions of this template, refused with what replaces them.
const REPLACED = {
  jwtSecret: 'jwtSecretFrom=ssm:/parameter/name (or secretsmanager:name): a value would be written into the CloudFormation template',
  vpc: 'streamVpc / publishVpc / ingestVpc=enabled (VPC attachment is chosen per function; stream stays outside by default)',
};

const trimmed = (value) => String(value === undefined || value === null ? '' : value).trim();

/** The problems with `p` (custom.sseRelay, params resolved) as messages naming the parameter; empty when deployable. */
function problems(given) {
  const out = [];
  // AUTH_MODE as the functions read it: trimmed, and empty for the default (jwt).
  const p = { ...given, authMode: trimmed(given.authMode) || 'jwt' };
  const set = (name) => p[name] !== undefined && p[name] !== null && String(p[name]).trim() !== '';
  // publish and each stream run in sandboxes of their own: a memory source would answer 202 to messages no browser sees.
  if (p.source === 'memory') out.push('source=memory keeps messages in one sandbox\'s memory, and publish and every stream run in sandboxes of their own, so no published message would reach a browser: choose redis, redis-list or sqs (`npm run dev:lambda` runs SOURCE=memory locally)');
  else if (!SOURCES.includes(p.source)) out.push(`source must be one of ${SOURCES.join(', ')}; got "${p.source}"`);
  out.push(...redisProblems(p, set));
  if (!['jwt', 'none'].includes(p.authMode)) out.push(`authMode must be jwt or none; got "${p.authMode}"`);
  if (p.authMode === 'jwt' && !set('jwtSecretFrom') && !set('jwksUrl')) out.push('authMode=jwt needs jwtSecretFrom=ssm:/parameter/name (an HS256 secret of 32+ bytes, stored as a SecureString) or jwksUrl=https://…/jwks.json; or choose authMode=none');
  if (set('jwtSecretFrom') && !isSecretRef(p.jwtSecretFrom)) out.push(`jwtSecretFrom must be ssm:/parameter/name, secretsmanager:name or an ARN; got "${p.jwtSecretFrom}"`);
  const jwks = set('jwksUrl') ? jwksUrlProblem(p.jwksUrl) : undefined;
  if (jwks !== undefined) out.push(`jwksUrl must be an https:// URL without user:password@: "${redactUrl(p.jwksUrl)}" ${jwks}`);
  // Both go into the template as they are (an IAM resource, an alarm action): a malformed one fails only the deploy.
  if (set('secretsKmsKeyArn') && !KMS_KEY_ARN.test(String(p.secretsKmsKeyArn))) out.push(`secretsKmsKeyArn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); got "${p.secretsKmsKeyArn}"`);
  if (set('alarmTopicArn') && !SNS_TOPIC_ARN.test(String(p.alarmTopicArn))) out.push(`alarmTopicArn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>); got "${p.alarmTopicArn}"`);
  // Trimmed, and empty for the default, as the functions read LOG_LEVEL (lib/config/env-reader.ts oneOf).
  if (!['', ...LOG_LEVELS].includes(trimmed(p.logLevel))) out.push(`logLevel must be one of ${LOG_LEVELS.join(', ')}; got "${p.logLevel}"`);
  // The rule of CORS_ORIGINS: the origin exactly as a browser sends it (lower case, no default port, no path).
  if (!isExactOrigin(String(p.allowedOrigin))) out.push(`allowedOrigin must be one exact origin like https://app.example.com, as a browser sends it (lower-case host, no default port, no *, path or trailing slash); got "${p.allowedOrigin}"`);
  out.push(...queueProblems(p), ...networkProblems(p, set), ...numberProblems(p));
  return out;
}

// Where the functions find Redis: one URL (REDIS_URL, or REDIS_URL_FROM naming it with its password), or the nodes of
// a Redis in cluster mode (REDIS_CLUSTER_NODES, with REDIS_TLS, REDIS_USERNAME and REDIS_PASSWORD_FROM), which a URL
// cannot reach: the relay refuses a REDIS_URL server in cluster mode (CROSSSLOT on every read of several topics).
const REDIS_PARAMS = ['redisUrl', 'redisUrlFrom', 'redisClusterNodes', 'redisUsername', 'redisPasswordFrom'];
const CLUSTER_ONLY = ['redisUsername', 'redisPasswordFrom'];
// REDIS_CLUSTER_NODES as the functions read it (lib/config/redis-config.ts): host:port or [ipv6]:port.
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;
// REDIS_TLS as the functions read it (lib/config/env-reader.ts, boolean).
const BOOLEANS = ['true', '1', 'yes', 'on', 'false', '0', 'no', 'off'];

function redisProblems(p, set) {
  const out = [];
  const tls = String(p.redisTls === undefined || p.redisTls === null ? '' : p.redisTls).trim().toLowerCase();
  const tlsOn = ['true', '1', 'yes', 'on'].includes(tls);
  if (tls !== '' && !BOOLEANS.includes(tls)) out.push(`redisTls must be true or false; got "${p.redisTls}"`);
  if (!['redis', 'redis-list'].includes(p.source)) {
    // The functions read every secret they are named at start; with source=sqs their roles may not read this one, so
    // each request would answer 500 (AccessDenied) though the stack deployed.
    const given = REDIS_PARAMS.filter(set).concat(tlsOn ? ['redisTls'] : []);
    if (p.source === 'sqs' && given.length > 0) out.push(`${given.join(', ')}: the Redis parameters apply to source=redis and redis-list only (source=${p.source} reads no Redis, and its functions would fail reading a secret their roles may not read); leave them empty`);
    return out;
  }
  const where = ['redisUrl', 'redisUrlFrom', 'redisClusterNodes'].filter(set);
  if (where.length === 0) out.push(`source=${p.source} needs redisUrlFrom=ssm:/name (the Redis URL with its password, stored as a SecureString) or, for a Redis without a password, redisUrl=rediss://host:port; for a Redis in cluster mode (ElastiCache Serverless), redisClusterNodes=host:port with redisTls=true`);
  if (where.length > 1) out.push(`${where.join(' and ')} are ${where.length === 2 ? 'both' : 'all'} set; give one`);
  if (set('redisUrl')) {
    const wrong = redisUrlProblem(p.redisUrl);
    const url = wrong === undefined ? new URL(trimmed(p.redisUrl)) : undefined;
    if (url === undefined) out.push(`redisUrl ${wrong}; got "${redactUrl(p.redisUrl)}"`);
    else if (url.username !== '' || url.password !== '') out.push('redisUrl carries credentials, which would be written into the CloudFormation template: store the URL in SSM (SecureString) or Secrets Manager and pass redisUrlFrom=ssm:/name instead');
  }
  if (set('redisUrlFrom') && !isSecretRef(p.redisUrlFrom)) out.push(`redisUrlFrom must be ssm:/parameter/name, secretsmanager:name or an ARN; got "${p.redisUrlFrom}"`);
  if (set('redisClusterNodes')) {
    // Blank entries are dropped, as the functions read the list (lib/config/env-reader.ts list).
    const bad = String(p.redisClusterNodes).split(',').map((node) => node.trim()).filter((node) => node !== '').filter((node) => {
      const match = HOST_PORT.exec(node);
      return match === null || Number(match[1]) < 1 || Number(match[1]) > 65535;
    });
    if (bad.length > 0) out.push(`redisClusterNodes must be host:port of cluster nodes separated by commas (e.g. my-cache-abc123.serverless.use1.cache.amazonaws.com:6379); not ${bad.map((node) => JSON.stringify(node)).join(', ')}`);
  } else {
    // REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS beside a URL stop the functions at init (500 to every request).
    const stray = CLUSTER_ONLY.filter(set).concat(tlsOn ? ['redisTls'] : []);
    if (stray.length > 0 && where.length > 0) out.push(`${stray.join(', ')} go with redisClusterNodes only: a URL carries its own user and password (store it whole, redisUrlFrom=ssm:/name) and asks for TLS with rediss://`);
  }
  if (set('redisUsername') && !/^\S{1,256}$/.test(String(p.redisUsername))) out.push(`redisUsername must be an ACL user name without spaces; got "${p.redisUsername}"`);
  if (set('redisPasswordFrom') && !isSecretRef(p.redisPasswordFrom)) out.push(`redisPasswordFrom must be ssm:/parameter/name, secretsmanager:name or an ARN; got "${p.redisPasswordFrom}"`);
  return out;
}

function networkProblems(p, set) {
  const out = [];
  const attached = ['streamVpc', 'publishVpc', 'ingestVpc'].filter((name) => {
    if (!SWITCHES.includes(p[name])) out.push(`${name} must be none or enabled; got "${p[name]}"`);
    return p[name] === 'enabled';
  });
  if (attached.length > 0 && (!set('subnetIds') || !set('securityGroupIds'))) out.push(`${attached.join(', ')}=enabled needs subnetIds and securityGroupIds (comma-separated)`);
  else if (attached.length > 0) out.push(...idProblems(p, 'subnetIds', 'subnet'), ...idProblems(p, 'securityGroupIds', 'sg'));
  return out;
}

// Lambda's limits on a function's VpcConfig: 16 subnets, 5 security groups.
const MOST_IDS = { subnet: 16, sg: 5 };

// serverless.yml splits the list at each comma and passes every part to CloudFormation as it is; a space after a comma,
// a typo, a repeated id or one id too many would only fail the deploy itself, with the stack to roll back.
function idProblems(p, name, kind) {
  const ids = String(p[name]).split(',');
  const out = [];
  const bad = ids.filter((id) => !new RegExp(`^${kind}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`).test(id));
  if (bad.length > 0) out.push(`${name} must be ${kind}-… ids separated by commas alone (no spaces); not ${bad.map((id) => JSON.stringify(id)).join(', ')}`);
  if (ids.length > MOST_IDS[kind]) out.push(`${name} lists ${ids.length} ids; a Lambda function takes at most ${MOST_IDS[kind]}`);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length > 0) out.push(`${name} lists ${[...new Set(twice)].join(', ')} more than once`);
  return out;
}

function numberProblems(p) {
  const out = [];
  // Read as the functions read their integer variables (runtime-rules.cjs readInteger): Number() would take 1e3, 0x400
  // or 16.0, which package and deploy, and FLUSH_PADDING_BYTES=1e3 then stops every stream at init (500).
  const whole = (name, min, max) => {
    const n = readInteger(p[name]);
    if (n === undefined || Number.isNaN(n) || n < min || n > max) out.push(`${name} must be a whole number from ${min} to ${max}; got "${p[name]}"`);
  };
  whole('streamConcurrency', 1, 10000);
  whole('ingestMaxConcurrency', 2, 1000);
  // FLUSH_PADDING_BYTES: empty is the variable unset (0, off), as the functions read it; 1 is no padding line at all.
  const padding = readInteger(p.flushPaddingBytes);
  const { min, max } = FLUSH_PADDING_RANGE;
  if (padding !== undefined && (Number.isNaN(padding) || padding < 0 || (padding > 0 && padding < min) || padding > max)) {
    out.push(`flushPaddingBytes must be 0 (off) or a whole number from ${min} to ${max} (the padding line is \`:\`, spaces and a newline); got "${p.flushPaddingBytes}"`);
  }
  return out;
}

/** IAM statements that let a function read the secrets it is given by name (and nothing else). */
function secretStatements(names, kmsKeyArn) {
  const refs = names.filter((ref) => ref !== undefined && ref !== null && String(ref).trim() !== '');
  if (refs.length === 0) return [];
  const ssm = refs.filter((ref) => secretArn(ref).action === 'ssm:GetParameter').map((ref) => secretArn(ref).resource);
  const sm = refs.filter((ref) => secretArn(ref).action === 'secretsmanager:GetSecretValue').map((ref) => secretArn(ref).resource);
  const statements = [];
  if (ssm.length > 0) statements.push({ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: ssm });
  if (sm.length > 0) statements.push({ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: sm });
  if (kmsKeyArn) statements.push({ Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [kmsKeyArn] });
  return statements;
}

// A relative ES import in esbuild's minified output: from"./x.mjs", import"./x.mjs" or import("./x.mjs").
const RELATIVE_IMPORT = /(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+\.mjs)"/g;

/** Every file `entry` (absolute) loads, statically or with import(), following relative imports; absolute paths. */
function reachableFiles(entry) {
  const seen = new Set([entry]);
  for (const file of seen) {
    if (!existsSync(file)) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)) seen.add(path.resolve(path.dirname(file), match[1]));
  }
  return seen;
}

/**
 * serverless-esbuild builds each function into one folder, and with `splitting` (serverless.yml, issue #17 point 4) the
 * chunks of every function land side by side; it would zip them all into every function. Before it zips, this adds to
 * each function's package patterns an exclusion for every chunk its own entry never reaches, so each zip holds its
 * entry and exactly the chunks that entry can import.
 */
function keepOnlyReachableChunks(esbuild) {
  for (const { bundlePath, func } of esbuild.buildResults || []) {
    const entry = path.join(esbuild.buildDirPath, bundlePath);
    const chunkDir = path.join(path.dirname(entry), 'chunks');
    if (!existsSync(chunkDir)) continue;
    const reachable = reachableFiles(entry);
    const unused = readdirSync(chunkDir).filter((name) => name.endsWith('.mjs') && !reachable.has(path.join(chunkDir, name)));
    func.package = func.package || {};
    // serverless-esbuild drops `file.mjs` and whatever starts with `file.` (its .map) for a `!file.mjs` pattern.
    func.package.patterns = [...(func.package.patterns || []), ...unused.map((name) => `!${path.relative(esbuild.buildDirPath, path.join(chunkDir, name))}`)];
  }
}

class SseRelayPlugin {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options;
    this.hooks = {
      'before:package:initialize': () => {
        this.wrapEsbuildPack();
        return this.check();
      },
      'before:deploy:function:packageFunction': () => this.wrapEsbuildPack(),
    };
  }

  /** Runs keepOnlyReachableChunks between serverless-esbuild's bundle and its zip step (both in one of its hooks). */
  wrapEsbuildPack() {
    const plugins = (this.serverless.pluginManager && this.serverless.pluginManager.plugins) || [];
    const esbuild = plugins.find((plugin) => plugin.constructor && plugin.constructor.name === 'EsbuildServerlessPlugin');
    if (esbuild === undefined || typeof esbuild.pack !== 'function' || esbuild.pack.sseRelay === true) return;
    const pack = esbuild.pack;
    esbuild.pack = async (...args) => {
      keepOnlyReachableChunks(esbuild);
      return pack.apply(esbuild, args);
    };
    esbuild.pack.sseRelay = true;
  }

  check() {
    const service = this.serverless.service;
    const p = (service.custom && service.custom.sseRelay) || {};
    const given = [].concat(this.options.param || []).map((entry) => String(entry).split('=')[0]);
    const found = given.filter((name) => name in REPLACED).map((name) => `${name} is no longer a parameter; use ${REPLACED[name]}`);
    found.push(...unknownParamProblems(given, declaredParams(this.serverless.configurationInput), REPLACED));
    found.push(...this.cliProblems(service), ...problems(p));
    if (found.length > 0) {
      throw new this.serverless.classes.Error(`sse-relay: cannot package this stack:\n  - ${found.join('\n  - ')}\n(docs/lambda.md lists the parameters)`);
    }
    if (p.streamVpc === 'enabled') {
      // Allowed, never the default: AWS documents that function URLs do not support response streaming within a VPC.
      this.serverless.cli.log('sse-relay: streamVpc=enabled: function URLs may not stream inside a VPC (docs/lambda.md, "Networking"); run `npm run smoke:lambda` against this stage before relying on it');
    }
    if (p.source === 'sqs' && p.sqsQueues === 'shared' && topicList(p).length === 0) {
      // Not detectable here: which topics the browsers will read. Said at every package, with the way to have it checked.
      this.serverless.cli.log('sse-relay: source=sqs with one shared queue is safe only while every browser reads the same topic: browsers of different topics make their sandboxes release each other\'s messages into the dead-letter queue. Name the topic (sqsTopics=<topic>): every other topic is then refused with 400 (SQS_QUEUE_TOPICS); or use sqsQueues=per-topic (docs/lambda.md, "Queue mode")');
    }
    this.apply(service, p);
  }

  /** --stage and --region, as resolved into provider.stage and provider.region. */
  cliProblems(service) {
    const provider = service.provider || {};
    const stage = provider.stage || this.options.stage || 'dev';
    return [...stageProblems(stage, generatedNames(service, stage)), ...regionProblems(provider.region || this.options.region || 'us-east-1')];
  }

  /** Settings derived from the parameters that serverless.yml cannot express portably across v3 and v4. */
  apply(service, p) {
    const { stream, ingest } = service.functions;
    // A number from --param arrives as a string; the schema wants an integer.
    stream.reservedConcurrency = Number(p.streamConcurrency);
    const resources = service.resources.Resources;
    // The SQS → Redis bridge appends to Redis streams: it exists only when the browsers read Redis streams.
    // Its alarm goes with it: a Ref to a function the template lacks is a template format error CloudFormation raises
    // before evaluating any condition, so the alarm's BridgeMode condition alone would fail the whole deploy.
    if (p.source !== 'redis') {
      delete service.functions.ingest;
      delete resources.IngestErrorsAlarm;
    } else for (const event of ingest.events) if (event.sqs) event.sqs.maximumConcurrency = Number(p.ingestMaxConcurrency);
    Object.assign(resources, topicQueueResources(p));
    const usesRedis = p.source === 'redis' || p.source === 'redis-list';
    const grant = (role, refs) => {
      const statements = secretStatements(refs, p.secretsKmsKeyArn);
      if (statements.length > 0) resources[role].Properties.Policies.push({ PolicyName: 'read-secrets', PolicyDocument: { Version: '2012-10-17', Statement: statements } });
    };
    const redisSecrets = usesRedis ? [p.redisUrlFrom, p.redisPasswordFrom] : [];
    grant('StreamRole', [p.jwtSecretFrom, ...redisSecrets]);
    grant('PublishRole', [p.jwtSecretFrom, ...redisSecrets]);
    if (p.source === 'redis') grant('IngestRole', redisSecrets);
  }
}

module.exports = SseRelayPlugin;
module.exports.problems = problems;
module.exports.REPLACED = REPLACED;
module.exports.secretStatements = secretStatements;
module.exports.reachableFiles = reachableFiles;
