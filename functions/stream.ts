import { streamingHandler } from '../lib/adapters/lambda.js';
import { lambdaTargetLoader } from './lambda-target.js';

/**
 * The RESPONSE_STREAM function URL (serverless.yml `stream`): `GET /events` as Server-Sent Events, and every other
 * route of the container (publish, health, metrics) on the same URL.
 */
export const handler = streamingHandler(lambdaTargetLoader(process.env));
