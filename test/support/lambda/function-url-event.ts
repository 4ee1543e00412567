import type { IncomingMessage } from 'node:http';
import type { LambdaFunctionURLEvent } from 'aws-lambda';

/** Bodies of these types reach the function as text; everything else is base64, as on a function URL. */
const TEXT_TYPE = /^(text\/|application\/(json|[\w.+-]*\+json|xml|[\w.+-]*\+xml|javascript|x-www-form-urlencoded))/i;

/**
 * Builds the payload-2.0 event a function URL sends for `req` (whose body was read into `body`).
 * Header names are lowercased, repeated headers comma-joined; the `cookie` header becomes `cookies`.
 */
export function toFunctionUrlEvent(req: IncomingMessage, body: Buffer, requestId: string): LambdaFunctionURLEvent {
  const rawUrl = req.url ?? '/';
  const queryAt = rawUrl.indexOf('?');
  const rawPath = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
  const rawQueryString = queryAt < 0 ? '' : rawUrl.slice(queryAt + 1);
  const headers = joinedHeaders(req.rawHeaders);
  const cookieHeader = headers['cookie'];
  delete headers['cookie'];
  const domainName = headers['host'] ?? '127.0.0.1';
  const now = new Date();
  const isText = body.length === 0 || TEXT_TYPE.test(headers['content-type'] ?? '');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    cookies: cookieHeader ? cookieHeader.split(/;\s*/).filter((c) => c.length > 0) : undefined,
    headers,
    queryStringParameters: rawQueryString ? joinedQuery(rawQueryString) : undefined,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body.length === 0 ? undefined : body.toString(isText ? 'utf8' : 'base64'),
    isBase64Encoded: !isText,
  } as LambdaFunctionURLEvent;
}

function joinedHeaders(rawHeaders: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    // Cookies are joined with '; ' so they split back into the `cookies` array.
    const separator = name === 'cookie' ? '; ' : ',';
    headers[name] = name in headers ? `${headers[name]}${separator}${value}` : value;
  }
  return headers;
}

function joinedQuery(rawQueryString: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    query[key] = key in query ? `${query[key]},${value}` : value;
  }
  return query;
}
