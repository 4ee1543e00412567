import { bufferedHandler } from '../lib/adapters/lambda.js';
import { lambdaTargetLoader } from './lambda-target.js';

/**
 * The BUFFERED function URL (serverless.yml `publish`): `POST /publish` (and health, metrics) answered as one
 * payload-2.0 result. With SOURCE=memory a publish reaches only this sandbox, so deploy it with redis or sqs.
 */
export const handler = bufferedHandler(lambdaTargetLoader(process.env));
