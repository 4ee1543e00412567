// The command line of `npm run bench`: `--name`, `--name=value` or `--name value`, checked against the options the
// chosen mode declares, so a typo (`--pinn`) fails with the list of what exists instead of being silently ignored.

/** Parses argv into a Map of option name → value (`true` for a bare flag). */
export function parseArgs(argv) {
  const options = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}": options start with --, e.g. --quick or --phase=5000x100`);
    const eq = arg.indexOf('=');
    if (eq !== -1) options.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) options.set(arg.slice(2), argv[++i]);
    else options.set(arg.slice(2), true);
  }
  return options;
}

/** Throws when `options` holds a name that `known` (name → help text) does not list. */
export function checkKnown(options, known, mode) {
  for (const name of options.keys()) {
    if (!(name in known)) {
      const list = Object.entries(known).map(([k, help]) => `  --${k.padEnd(16)} ${help}`).join('\n');
      throw new Error(`unknown option --${name} for ${mode}; the options are:\n${list}`);
    }
  }
}

/** A positive integer option, or `fallback` when absent; a clear error when malformed. */
export function integerOption(options, name, fallback) {
  const value = options.get(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of at least 1, got "${value}"`);
  return n;
}

/** A list option (`--only=memory,floor`), or undefined when absent. */
export function listOption(options, name) {
  const value = options.get(name);
  if (value === undefined) return undefined;
  if (value === true || value === '') throw new Error(`--${name} needs a comma-separated list, e.g. --${name}=a,b`);
  return String(value).split(',').map((s) => s.trim()).filter(Boolean);
}
