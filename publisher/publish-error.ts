/**
 * Why a publish failed. `code` is the relay's error code (README, "Errors") when the relay refused the message or the
 * publisher's own check did; `unavailable` when the transport could not deliver it after its retries.
 */
export class PublishError extends Error {
  override readonly name = 'PublishError';

  /**
   * @param code the relay's error code, or `unavailable` (network, 5xx, or retries exhausted)
   * @param status the HTTP status (http transport), when there was one
   */
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
