/**
 * The JSON text of a `data` that is not a string, taken from the body as the producer wrote it (whitespace outside
 * strings left out), not re-serialized from what JSON.parse made of it: JavaScript numbers are doubles, so
 * `JSON.stringify(JSON.parse(text))` turned `9007199254740993` (a 64-bit id) into `9007199254740992` and `1e400` into
 * `null`, and the publish was still answered 202. The browser gets the producer's digits, and parses them as it will.
 */

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * The compact JSON text of member `name` of the top-level object in `text`, or undefined when there is none. `text`
 * must be JSON that parsed to an object (the caller parsed it first); like JSON.parse, the last of repeated names wins.
 */
export function memberJsonText(text: string, name: string): string | undefined {
  let found: [number, number] | undefined;
  let i = skipWhitespace(text, text.indexOf('{') + 1);
  while (text[i] === '"') {
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    const start = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1); // past the ':'
    const end = valueEnd(text, start);
    if (key === name) found = [start, end];
    i = skipWhitespace(text, end);
    if (text[i] === ',') i = skipWhitespace(text, i + 1);
  }
  return found === undefined ? undefined : compact(text, found[0], found[1]);
}

function skipWhitespace(text: string, i: number): number {
  while (WHITESPACE.has(text.charCodeAt(i))) i++;
  return i;
}

/** The index just past the string that opens at `i` (a `"`). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === 0x22) return j + 1;
  }
  return text.length;
}

/** The index just past the value that starts at `i`. */
function valueEnd(text: string, i: number): number {
  if (text[i] === '"') return stringEnd(text, i);
  let depth = 0;
  let j = i;
  for (; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22) j = stringEnd(text, j) - 1;
    else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) break;
      if (--depth === 0) return j + 1;
    } else if (depth === 0 && (c === 0x2c || WHITESPACE.has(c))) break;
  }
  return j;
}

/** `text[start, end)` without the whitespace between tokens. */
function compact(text: string, start: number, end: number): string {
  let out = '';
  for (let j = start; j < end; j++) {
    if (text[j] === '"') {
      const close = stringEnd(text, j);
      out += text.slice(j, close);
      j = close - 1;
    } else if (!WHITESPACE.has(text.charCodeAt(j))) out += text[j];
  }
  return out;
}
