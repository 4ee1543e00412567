import { ConfigError } from './config-error.js';

/** The process environment as plain data, so configuration stays a pure function of its input. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Typed reads of environment variables. An unset or empty variable takes its default; a malformed one throws a
 * ConfigError naming the variable and the expected form.
 */
export class EnvReader {
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  /** A whole number in [min, max]. */
  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(name, `a whole number from ${min} to ${max}`, value);
    }
    return n;
  }

  /** A whole number in [min, max], or undefined when unset. */
  optionalInteger(name: string, min: number, max: number): number | undefined {
    return this.raw(name) === undefined ? undefined : this.integer(name, min, min, max);
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    throw new ConfigError(name, 'true or false', value);
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(choices as readonly string[]).includes(value)) throw new ConfigError(name, `one of ${choices.join(', ')}`, value);
    return value as T;
  }

  /** A URL whose scheme is one of `schemes` (e.g. `['redis:', 'rediss:']`). */
  url(name: string, schemes: readonly string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(name, `a URL starting with ${schemeList(schemes)}`, redactUrl(value));
    }
    if (!schemes.includes(parsed.protocol)) throw new ConfigError(name, `a URL starting with ${schemeList(schemes)}`, redactUrl(value));
    return value;
  }

  /** A comma-separated list; empty entries are dropped. */
  list(name: string): string[] {
    return (this.raw(name) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
}

// `redis:`, `rediss:` → "redis:// or rediss://".
function schemeList(schemes: readonly string[]): string {
  return schemes.map((scheme) => `${scheme}//`).join(' or ');
}

/**
 * `value` without the user and password a URL may carry (redis://user:secret@host): an error message must not show them.
 * Everything up to the last `@` goes: a password with an unescaped `/`, `?` or `#` in it (rediss://u:ab/cd@host) ends
 * the authority early for a URL parser, but is still the password.
 */
export function redactUrl(value: string): string {
  return value.replace(/\/\/.*@/, '//***@');
}
