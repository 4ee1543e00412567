/** Types of public/sse-refusal.js: how the sse-relay client answers a refused stream. */

export type RefusalAction =
  | { kind: 'refresh' | 'forbidden' | 'forget-cursor' | 'fail' | 'backoff' }
  | { kind: 'wait'; delayMs: number };

export declare function refusalAction(status: number, code: string | undefined, retryAfter: string | null, canRefresh: boolean, random?: () => number): RefusalAction;
export declare function retryAfterMs(value: string | null | undefined): number | undefined;
export declare function errorCode(response: Response): Promise<string | undefined>;
export declare function refusalBody(response: Response): Promise<{ code: string | undefined; message: string | undefined }>;
export declare function parseReset(text: string): { reason: string; topics: string[] };
