import { fieldsJson } from './log-fields.js';

/** The logging the core needs; functions/ passes a {@link JsonLogger}, tests may pass {@link silentLogger}. */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = (): void => undefined;

/** A logger that drops everything. */
export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/** Levels as pino numbers them, so tools that read pino's lines (`level >= 40`) read these. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

export type LogLevel = keyof typeof LOG_LEVELS;

/** Where lines go: a stream, or anything with a `write` (each call gets one whole line). */
export interface LogDestination {
  write(line: string): unknown;
}

export interface JsonLoggerOptions {
  level: LogLevel;
  destination: LogDestination;
  /** Fields added to every line at the time it is written, e.g. the awsRequestId of the Lambda invocation. */
  context?: () => object;
}

/**
 * JSON lines, one object per call: `level`, `time` (epoch ms), the bound fields, the context, the call's fields, then
 * `msg` — the layout of pino's lines, written synchronously so that nothing is lost when the process exits right after.
 * A log call never throws: a field that cannot be written becomes a marker (lib/log-fields.ts).
 */
export class JsonLogger implements Logger {
  private readonly threshold: number;

  /** @param bound the JSON of the fields every line carries (`,"service":"sse-relay"`), from {@link fieldsJson}. */
  constructor(private readonly options: JsonLoggerOptions, private readonly bound = '') {
    this.threshold = LOG_LEVELS[options.level];
    if (this.threshold === undefined) throw new Error(`log level "${options.level}" is not one of ${Object.keys(LOG_LEVELS).join(', ')}`);
  }

  /** A logger whose lines also carry `fields`. */
  child(fields: object): JsonLogger {
    return new JsonLogger(this.options, this.bound + fieldsJson(fields));
  }

  debug(fields: object, message: string): void {
    this.write(LOG_LEVELS.debug, fields, message);
  }

  info(fields: object, message: string): void {
    this.write(LOG_LEVELS.info, fields, message);
  }

  warn(fields: object, message: string): void {
    this.write(LOG_LEVELS.warn, fields, message);
  }

  error(fields: object, message: string): void {
    this.write(LOG_LEVELS.error, fields, message);
  }

  private write(level: number, fields: object, message: string): void {
    if (level < this.threshold) return;
    const { context, destination } = this.options;
    let own: string;
    try {
      own = (context === undefined ? '' : fieldsJson(context())) + fieldsJson(fields);
    } catch (error) {
      own = `,"logError":${JSON.stringify(error instanceof Error ? error.message : String(error))}`;
    }
    destination.write(`{"level":${level},"time":${Date.now()}${this.bound}${own},"msg":${JSON.stringify(String(message))}}\n`);
  }
}
