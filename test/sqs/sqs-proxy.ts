import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An answer the proxy gives itself instead of passing the call on: SQS's JSON error shape. */
export interface SqsFault {
  status: number;
  /** The error's `__type`, e.g. `AccessDenied`. */
  type: string;
  message: string;
}

/** A pass-through proxy in front of the SQS emulator that counts calls by action and can answer some with a fault. */
export interface SqsProxy {
  /** Point an SQS client (SQS_ENDPOINT) here. */
  endpoint: string;
  /** Calls seen, by action (`ReceiveMessage`, `GetQueueAttributes`, …). */
  calls: Map<string, number>;
  /** Decides per action whether to answer with a fault (undefined: pass it on). */
  fault: (action: string) => SqsFault | undefined;
  stop(): Promise<void>;
}

/** Starts the proxy on an ephemeral loopback port, forwarding to `upstream` (the emulator's endpoint). */
export async function startSqsProxy(upstream: string): Promise<SqsProxy> {
  const target = new URL(upstream);
  const proxy: SqsProxy = { endpoint: '', calls: new Map(), fault: () => undefined, stop: async () => undefined };
  const server: Server = createServer((req, res) => {
    // The JSON protocol names the action in X-Amz-Target: `AmazonSQS.ReceiveMessage`.
    const action = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
    proxy.calls.set(action, (proxy.calls.get(action) ?? 0) + 1);
    const fault = proxy.fault(action);
    if (fault !== undefined) {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${fault.type};Sender` });
      res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${fault.type}`, message: fault.message }));
      return;
    }
    const forwarded = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}
