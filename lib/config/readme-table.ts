import { CONFIG_DEFAULTS } from './defaults.js';
import type { Setting } from './setting.js';

/** The README's configuration table (Markdown), rendered from the defaults objects; `npm run docs:config` writes it. */
export function renderConfigTable(): string {
  const rows = CONFIG_DEFAULTS.flatMap((table) => Object.entries(table).map(([name, entry]) => `| \`${name}\` | ${shownDefault(entry)} | ${entry.meaning} |`));
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

// `8080`, `0` (off), — (on `PORT`), `0` (off; Lambda `60000`).
function shownDefault(entry: Setting<unknown>): string {
  const value = entry.value === undefined ? '—' : `\`${String(entry.value)}\``;
  const notes = [entry.note, entry.lambda === undefined ? undefined : `Lambda \`${String(entry.lambda)}\``].filter((n) => n !== undefined);
  return notes.length === 0 ? value : `${value} (${notes.join('; ')})`;
}
