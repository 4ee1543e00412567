/** A configuration value that cannot be used. The message names the variable and the form it expects. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;

  constructor(variable: string, expected: string, got: string, options?: { cause?: unknown }) {
    super(`${variable} must be ${expected}; got ${JSON.stringify(got.length > 80 ? got.slice(0, 80) + '…' : got)}`, options);
    this.variable = variable;
  }

  /**
   * A variable whose value is well-formed but unusable where it points (a secret that cannot be read): `message` must
   * start with the variable's name and say how to fix it.
   */
  static unusable(variable: string, message: string, cause?: unknown): ConfigError {
    const error = new ConfigError(variable, '', '', cause === undefined ? undefined : { cause });
    error.message = message;
    return error;
  }
}
