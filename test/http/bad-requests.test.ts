import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

let relay: Awaited<ReturnType<typeof startRelay>>;

beforeAll(async () => {
  relay = await startRelay({ MAX_TOPICS: '3', MAX_BODY_BYTES: '1024', MAX_MESSAGE_BYTES: '100' });
});
afterAll(async () => relay.stop());

const json = { 'content-type': 'application/json' };
// The message names what was wrong with the request, so a developer need not find the server's log to learn it.
const CASES: [string, string, string, RequestInit, number, string, string][] = [
  ['no topic', 'GET', '/events', {}, 400, 'invalid_topic', 'at least one topic parameter is required'],
  ['empty topic', 'GET', '/events?topic=', {}, 400, 'invalid_topic', 'topic must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
  ['CRLF in topic', 'GET', '/events?topic=a%0d%0aSet-Cookie:%20x=1', {}, 400, 'invalid_topic', 'topic must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
  ['too many topics', 'GET', '/events?topic=a,b,c,d', {}, 400, 'too_many_topics', 'a subscription may name at most 3 topics (MAX_TOPICS)'],
  ['malformed cursor', 'GET', '/events?topic=a&lastEventId=garbage', {}, 400, 'invalid_cursor', 'Last-Event-ID is not a valid cursor: a pair is not topic=position'],
  ['cursor in header', 'GET', '/events?topic=a', { headers: { 'last-event-id': 'a=1-2-3' } }, 400, 'invalid_cursor', 'Last-Event-ID is not a valid cursor: a pair is not topic=position'],
  ['huge cursor', 'GET', `/events?topic=a&lastEventId=${'a=1,'.repeat(3000)}`, {}, 400, 'invalid_cursor', 'Last-Event-ID is not a valid cursor: it is longer than 8192 characters'],
  ['unknown route', 'GET', '/nope', {}, 404, 'not_found', 'no such route'],
  ['wrong method on events', 'POST', '/events?topic=a', {}, 405, 'method_not_allowed', '/events takes GET'],
  ['wrong method on publish', 'GET', '/publish', {}, 405, 'method_not_allowed', '/publish takes POST'],
  ['publish without JSON type', 'POST', '/publish', { body: '{}' }, 415, 'unsupported_media_type', 'POST /publish needs Content-Type: application/json'],
  // A compressed body was read as JSON and refused as "not UTF-8 JSON": the error pointed at the wrong mistake.
  ['publish gzip-encoded', 'POST', '/publish', { headers: { ...json, 'content-encoding': 'gzip' }, body: gzipSync('{"topic":"a","data":"x"}') }, 415, 'unsupported_media_type', 'POST /publish takes a body without Content-Encoding (gzip was sent): send it uncompressed'],
  ['publish invalid JSON', 'POST', '/publish', { headers: json, body: '{"topic":' }, 400, 'invalid_body', 'body is not UTF-8 JSON'],
  ['publish an array', 'POST', '/publish', { headers: json, body: '[]' }, 400, 'invalid_body', 'body must be a JSON object {topic, data, event?, id?}'],
  ['publish without data', 'POST', '/publish', { headers: json, body: '{"topic":"a"}' }, 400, 'invalid_body', 'data is required'],
  ['publish bad topic', 'POST', '/publish', { headers: json, body: '{"topic":"a b","data":"x"}' }, 400, 'invalid_topic', 'topic must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'],
  ['publish LF in event', 'POST', '/publish', { headers: json, body: '{"topic":"a","data":"x","event":"a\\nid: 9"}' }, 400, 'invalid_event_field', 'event must not contain CR, LF or NUL'],
  ['publish NUL in id', 'POST', '/publish', { headers: json, body: '{"topic":"a","data":"x","id":"k\\u0000"}' }, 400, 'invalid_event_field', 'id must not contain CR, LF or NUL'],
  ['publish numeric event', 'POST', '/publish', { headers: json, body: '{"topic":"a","data":"x","event":5}' }, 400, 'invalid_body', 'event must be a string'],
  ['publish a misspelt field', 'POST', '/publish', { headers: json, body: '{"topic":"a","data":"x","evnet":"created"}' }, 400, 'invalid_body', 'unknown field "evnet": a publish body has topic, data, event and id only'],
  ['publish body too large', 'POST', '/publish', { headers: json, body: JSON.stringify({ topic: 'a', data: 'x'.repeat(2000) }) }, 413, 'body_too_large', 'body is larger than MAX_BODY_BYTES (1024)'],
  ['publish message too large', 'POST', '/publish', { headers: json, body: JSON.stringify({ topic: 'a', data: 'x'.repeat(101) }) }, 413, 'message_too_large', 'data is larger than MAX_MESSAGE_BYTES (100)'],
  ['publish invalid UTF-8', 'POST', '/publish', { headers: json, body: Buffer.from([0x7b, 0xff, 0x7d]) }, 400, 'invalid_body', 'body is not UTF-8 JSON'],
];

describe('bad requests get a 4xx with a JSON error code and what was wrong', () => {
  it.each(CASES)('%s', async (_name, method, path, init, status, code, message) => {
    const response = await fetch(relay.url + path, { method, ...init });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({ error: code, message });
  });

  it('names the allowed methods on 405', async () => {
    expect((await fetch(`${relay.url}/publish`)).headers.get('allow')).toBe('POST');
  });

  // RFC 9110 §9.1: a general-purpose server supports HEAD wherever it supports GET; load balancers probe with it.
  it.each(['/healthz', '/readyz', '/metrics'])('HEAD %s answers as GET does, without a body', async (path) => {
    const get = await fetch(relay.url + path);
    const head = await fetch(relay.url + path, { method: 'HEAD' });
    expect(head.status).toBe(get.status);
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(await head.text()).toBe('');
  });

  it('rejects a chunked body past the limit without reading it all, and stays up', async () => {
    const socket = connect(relay.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => undefined);
    socket.write('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let i = 0; i < 5; i++) socket.write(`400\r\n${'x'.repeat(0x400)}\r\n`);
    await waitFor(() => answer.includes('\r\n\r\n{'), 'the 413 answer with its body', { timeoutMs: 3_000, everyMs: 20 }).catch(() => undefined);
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('{"error":"body_too_large","message":"body is larger than MAX_BODY_BYTES (');
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });

  // node:http takes the chunked framing off and leaves any other transfer coding in the bytes, which were read as JSON.
  it('refuses a transfer coding other than chunked with 415; identity codings are no coding', async () => {
    const send = async (headers: string, body: string): Promise<string> => {
      const socket = connect(relay.port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      socket.on('error', () => undefined);
      socket.write(`POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n${body}`);
      await waitFor(() => /\r\n\r\n\{.*\}$/.test(answer), 'the JSON answer', { timeoutMs: 3_000, everyMs: 20 }).catch(() => undefined);
      socket.destroy();
      return answer;
    };
    const message = '{"topic":"a","data":"x"}';
    const chunked = `${message.length.toString(16)}\r\n${message}\r\n0\r\n\r\n`;
    const refused = await send('Transfer-Encoding: gzip, chunked\r\n', chunked);
    expect(refused).toMatch(/^HTTP\/1\.1 415 /);
    expect(refused).toContain('{"error":"unsupported_media_type","message":"POST /publish takes a body in Transfer-Encoding chunked only (gzip was sent): send it uncompressed"}');
    expect(await send(`Content-Encoding: identity\r\nContent-Length: ${message.length}\r\n`, message)).toMatch(/^HTTP\/1\.1 202 /);
    expect(await send('Transfer-Encoding: chunked\r\n', chunked)).toMatch(/^HTTP\/1\.1 202 /);
  });

  it('never echoes input into a header or shows a stack trace', async () => {
    const socket = connect(relay.port, '127.0.0.1');
    let raw = '';
    socket.on('data', (d) => (raw += d.toString('latin1')));
    socket.write('GET /events?topic=%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: \u00ff\r\n\r\n');
    await waitFor(() => raw.includes('}'), 'the JSON error body', { timeoutMs: 3_000, everyMs: 20 }).catch(() => undefined);
    socket.destroy();
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).not.toMatch(/x-injected/i);
    expect(JSON.parse(body ?? '')).toEqual({ error: 'invalid_topic', message: expect.stringMatching(/^topic must match /) });
    expect(body).not.toMatch(/Injected/);
  });
});
