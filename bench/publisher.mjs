// An open-loop publisher: POST /publish at fixed times whatever the server's answers, each payload stamped with its
// scheduled send time, so a server that falls behind shows it in latency instead of slowing the publisher down.
/* global Buffer, setTimeout */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

const PADDING = 'x'.repeat(24);

function now() {
  return performance.timeOrigin + performance.now();
}

function post(agent, port, body) {
  return new Promise((resolve) => {
    const req = request({ agent, host: '127.0.0.1', port, method: 'POST', path: '/publish', headers: {
      'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
    } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode === 202));
    });
    req.once('error', () => resolve(false));
    req.end(body);
  });
}

/**
 * Publishes `rate` messages/s to `topic` for `seconds`. Resolves once every request has been answered, with how many
 * were sent, accepted (answered 202 within `answerTimeoutMs` of the last send) and how late (ms) the latest one left.
 */
export async function publishAtRate({ port, topic, rate, seconds, answerTimeoutMs = 10_000 }) {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const total = Math.round(rate * seconds);
  const start = now() + 20;
  const answers = [];
  let maxLateMs = 0;
  for (let seq = 0; seq < total; ) {
    const wait = start + (seq * 1000) / rate - now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 50)));
    // Every message due by now leaves now, stamped with the time it was due.
    while (seq < total && start + (seq * 1000) / rate <= now()) {
      const due = start + (seq * 1000) / rate;
      maxLateMs = Math.max(maxLateMs, now() - due);
      const data = `{"t":${due.toFixed(3)},"s":${seq},"p":"${PADDING}"}`;
      answers.push(post(agent, port, JSON.stringify({ topic, data })));
      seq += 1;
    }
  }
  // A server far behind (the floor under heavy load) may take minutes to answer; past `answerTimeoutMs` an unanswered
  // publish counts as not accepted, so every phase stays bounded in time.
  const late = new Promise((resolve) => setTimeout(() => resolve('late'), answerTimeoutMs));
  const settled = await Promise.all(answers.map((answer) => Promise.race([answer, late])));
  const accepted = settled.filter((ok) => ok === true).length;
  agent.destroy();
  return { sent: total, accepted, maxLateMs, startedAt: start };
}
