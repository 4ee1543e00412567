/** A configuration value that cannot be used. The message names the variable and the form it expects. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;

  constructor(variable: string, expected: string, got: string) {
    super(`${variable} must be ${expected}; got ${JSON.stringify(got.length > 80 ? got.slice(0, 80) + '…' : got)}`);
    this.variable = variable;
  }
}
