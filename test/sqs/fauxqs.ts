import { SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';

/** The SQS emulator, in this process on an ephemeral loopback port, with a real SDK client pointed at it. */
export interface LocalSqs {
  server: FauxqsServer;
  endpoint: string;
  client: SQSClient;
  /** Creates a queue and returns its URL. */
  createQueue(name: string, attributes?: Record<string, string>): string;
  /** Environment for loadConfig that points SOURCE=sqs at this emulator. */
  env(queueUrl: string, extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

export async function startLocalSqs(): Promise<LocalSqs> {
  // The product takes credentials from the default provider chain; the chain's first link is the environment.
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  let server: FauxqsServer;
  try {
    server = await startFauxqs({ port: 0, logger: false, host: 'localhost' });
  } catch (error) {
    throw new Error('the SQS emulator did not start; install it with: npm install --save-dev fauxqs', { cause: error });
  }
  const endpoint = server.address;
  const client = newClient(endpoint);
  return {
    server, endpoint, client,
    createQueue: (name, attributes = {}) => server.createQueue(name, { attributes }).queueUrl,
    env: (queueUrl, extra = {}) => ({ SOURCE: 'sqs', SQS_QUEUE_URL: queueUrl, SQS_ENDPOINT: endpoint, AWS_REGION: 'us-east-1', ...extra }),
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

/** A client of the emulator, credentials from the environment as in production. */
export function newClient(endpoint: string): SQSClient {
  return new SQSClient({ endpoint, region: 'us-east-1', maxAttempts: 2 });
}
