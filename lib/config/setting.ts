/**
 * One environment variable's default and its one-line meaning: the only place either is written. The readers of each
 * configuration area take their fallbacks from here, and the README's configuration table is rendered from here
 * (`npm run docs:config`; test/core/readme.test.ts fails when the two differ).
 */
export interface Setting<T> {
  /** Taken when the variable is unset or empty; `undefined` = no default (the feature stays off, or a mode requires it). */
  readonly value: T;
  /** On Lambda, where a vanished client is invisible and billed by the ms, a different default (see loadConfig). */
  readonly lambda?: T;
  /** What the default means when the value alone does not say it (`off`, `on PORT`), shown beside it in the README. */
  readonly note?: string;
  /** The README's meaning column: one line of Markdown. */
  readonly meaning: string;
}

/** The settings of one configuration area, keyed by variable name, in the order of the README table. */
export type SettingTable = Readonly<Record<string, Setting<string | number | boolean | undefined>>>;

/** A default and its meaning; `extra` adds a note or a Lambda default (then name the type: `setting<number>(…)`). */
export function setting<T extends string | number | boolean | undefined>(value: T, meaning: string, extra: Pick<Setting<T>, 'lambda' | 'note'> = {}): Setting<T> {
  return { value, meaning, ...extra };
}

/** A variable without a default: unset leaves its feature off, or is refused by the mode that needs it. */
export function noDefault(meaning: string, note?: string): Setting<undefined> {
  return note === undefined ? { value: undefined, meaning } : { value: undefined, meaning, note };
}

/** Which entry point reads the configuration: the container server (and CLI) or a Lambda function. */
export type Runtime = 'container' | 'lambda';

/** The default a runtime takes: the Lambda one where there is one and the runtime is Lambda, else the common one. */
export function defaultFor<T>(entry: Setting<T>, runtime: Runtime): T {
  return runtime === 'lambda' && entry.lambda !== undefined ? entry.lambda : entry.value;
}
