import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call the stand-in answered: the JSON 1.1 target (`AmazonSSM.GetParameter`…) and the request body. */
export interface SecretsCall {
  target: string;
  body: Record<string, unknown>;
}

export interface SecretsStandIn {
  /** Base URL, for AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  url: string;
  readonly calls: SecretsCall[];
  close(): Promise<void>;
}

/**
 * A small local stand-in for SSM Parameter Store and Secrets Manager, speaking the AWS JSON 1.1 protocol their SDK
 * clients use (POST /, `X-Amz-Target`, `application/x-amz-json-1.1`): GetParameter and GetSecretValue, with the
 * services' error shapes for an unknown name. It does not check signatures; it records every call.
 *
 * @param parameters SSM parameter name → value (served as a SecureString, decrypted only WithDecryption).
 * @param secrets Secrets Manager name → SecretString.
 */
export async function startSecretsStandIn(parameters: Record<string, string>, secrets: Record<string, string>): Promise<SecretsStandIn> {
  const calls: SecretsCall[] = [];
  const server = createServer((req, res) => {
    void readJson(req).then((body) => {
      const target = String(req.headers['x-amz-target'] ?? '');
      calls.push({ target, body });
      answer(res, target, body, parameters, secrets);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(res: ServerResponse, target: string, body: Record<string, unknown>, parameters: Record<string, string>, secrets: Record<string, string>): void {
  if (target === 'AmazonSSM.GetParameter') {
    const name = String(body['Name']);
    const value = parameters[name];
    if (value === undefined) return reply(res, 400, { __type: 'ParameterNotFound', message: `Parameter ${name} not found.` });
    // Without WithDecryption a SecureString comes back encrypted, as the service does it.
    const shown = body['WithDecryption'] === true ? value : Buffer.from(`kms-ciphertext:${name}`).toString('base64');
    return reply(res, 200, { Parameter: { Name: name, Type: 'SecureString', Value: shown, Version: 1, ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${name}` } });
  }
  if (target === 'secretsmanager.GetSecretValue') {
    const name = String(body['SecretId']);
    const value = secrets[name];
    if (value === undefined) return reply(res, 400, { __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." });
    return reply(res, 200, { ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`, Name: name, SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'] });
  }
  reply(res, 400, { __type: 'UnknownOperationException', message: `the stand-in does not know ${target}` });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
}
