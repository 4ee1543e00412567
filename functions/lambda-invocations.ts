import { EmfEmitter } from '../lib/adapters/lambda-emf.js';
import type { InvocationObserver } from '../lib/adapters/lambda.js';
import type { Env } from '../lib/config/index.js';
import type { Metrics } from '../lib/metrics.js';

// A stream invocation lasts up to 15 minutes; its counts also leave once a minute, not only at its end.
const EMF_INTERVAL_MS = 60_000;

/** The awsRequestId of the invocation a sandbox is serving (one at a time), for its log lines. */
export class InvocationScope implements InvocationObserver {
  private requestId: string | undefined;
  private readonly emf: EmfEmitter | undefined;

  /** @param metrics sent as CloudWatch embedded metrics when given. */
  constructor(env: Env, metrics?: Metrics) {
    if (metrics === undefined) return;
    const emf = new EmfEmitter(metrics, {
      dimensions: { FunctionName: env['AWS_LAMBDA_FUNCTION_NAME'] ?? 'sse-relay' },
      write: (line) => process.stdout.write(`${line}\n`),
    });
    this.emf = emf;
    setInterval(() => emf.flush(), EMF_INTERVAL_MS).unref();
  }

  /** The fields every log line carries: `awsRequestId` while an invocation runs. */
  readonly logFields = (): object => (this.requestId === undefined ? {} : { awsRequestId: this.requestId });

  started(awsRequestId: string): void {
    this.requestId = awsRequestId;
  }

  finished(): void {
    this.emf?.flush();
    this.requestId = undefined;
  }
}
