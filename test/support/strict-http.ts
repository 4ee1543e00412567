import type { Socket } from 'node:net';

/**
 * A strict HTTP/1.1 response reader for conformance tests: it reads the raw bytes of a socket and rejects any framing
 * a lenient client would let pass (RFC 9112): bare LF or CR, obsolete line folding, a status line that is not
 * `HTTP/1.1 NNN reason`, a malformed field line, Content-Length beside Transfer-Encoding, a chunk size that is not bare
 * hex (no whitespace, no extensions: the relay sends none), chunk data not followed by exactly CRLF, a missing last
 * chunk. Responses are read one after another on the same connection, so keep-alive reuse and pipelining are checked
 * byte for byte.
 */
export class StrictHttpError extends Error {}

export interface StrictResponse {
  status: number;
  /** Field names lower-cased, in order. */
  headers: [string, string][];
  framing: 'chunked' | 'length' | 'close' | 'none';
  body: Buffer;
  /** The size of each chunk as sent (chunked framing only). */
  chunkSizes: number[];
}

const MAX_LINE = 16_384;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export class StrictHttpReader {
  private buffer = Buffer.alloc(0);
  private eof = false;
  private wake: (() => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (bytes: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, bytes]);
      this.notify();
    });
    socket.on('end', () => {
      this.eof = true;
      this.notify();
    });
    socket.on('close', () => {
      this.eof = true;
      this.notify();
    });
  }

  /** Bytes received and not yet read as part of a response. */
  get pending(): number {
    return this.buffer.byteLength;
  }

  /** True once the server closed the connection and every byte was read. */
  get closed(): boolean {
    return this.eof && this.buffer.byteLength === 0;
  }

  /** Resolves once the peer has closed; rejects if it sends anything more meanwhile. */
  async waitClosed(): Promise<void> {
    while (!this.eof) await this.more();
    if (this.buffer.byteLength > 0) throw new StrictHttpError(`unexpected bytes after the last response: ${JSON.stringify(this.buffer.toString('latin1'))}`);
  }

  /** Reads the status line and header section. `method` HEAD means no body follows. */
  async head(): Promise<Omit<StrictResponse, 'body' | 'chunkSizes'>> {
    const statusLine = await this.line();
    const status = /^HTTP\/1\.1 ([1-5]\d\d) [\t\x20-\x7e\x80-\xff]*$/.exec(statusLine);
    if (status === null) throw new StrictHttpError(`bad status line ${JSON.stringify(statusLine)}`);
    const headers: [string, string][] = [];
    for (let line = await this.line(); line !== ''; line = await this.line()) headers.push(parseField(line));
    return { status: Number(status[1]), headers, framing: framingOf(Number(status[1]), headers) };
  }

  /** Reads a body with the framing its head announced; `onChunk` hears each chunk as it arrives. */
  async body(framing: StrictResponse['framing'], headers: [string, string][], onChunk?: (data: Buffer) => void): Promise<{ body: Buffer; chunkSizes: number[] }> {
    if (framing === 'none') return { body: Buffer.alloc(0), chunkSizes: [] };
    if (framing === 'length') return { body: await this.bytes(Number(header(headers, 'content-length'))), chunkSizes: [] };
    if (framing === 'close') {
      const parts: Buffer[] = [];
      for (;;) {
        if (this.buffer.byteLength > 0) {
          parts.push(this.take(this.buffer.byteLength));
          onChunk?.(parts.at(-1) as Buffer);
        }
        if (this.eof) return { body: Buffer.concat(parts), chunkSizes: [] };
        await this.more();
      }
    }
    const parts: Buffer[] = [];
    const chunkSizes: number[] = [];
    for (;;) {
      const sizeLine = await this.line();
      if (!/^[0-9A-Fa-f]{1,8}$/.test(sizeLine)) throw new StrictHttpError(`bad chunk size line ${JSON.stringify(sizeLine)}`);
      const size = parseInt(sizeLine, 16);
      if (size === 0) break;
      const data = await this.bytes(size);
      const end = (await this.bytes(2)).toString('latin1');
      if (end !== '\r\n') throw new StrictHttpError(`chunk of ${size} bytes not followed by CRLF but ${JSON.stringify(end)}`);
      chunkSizes.push(size);
      parts.push(data);
      onChunk?.(data);
    }
    // The trailer section: the relay sends none, so the last chunk is followed by exactly CRLF.
    const trailer = await this.line();
    if (trailer !== '') throw new StrictHttpError(`unexpected trailer ${JSON.stringify(trailer)}`);
    return { body: Buffer.concat(parts), chunkSizes };
  }

  /** One whole response. */
  async response(method = 'GET', onChunk?: (data: Buffer) => void): Promise<StrictResponse> {
    const head = await this.head();
    const framing = method === 'HEAD' ? 'none' : head.framing;
    return { ...head, framing, ...(await this.body(framing, head.headers, onChunk)) };
  }

  private async line(): Promise<string> {
    for (;;) {
      const lf = this.buffer.indexOf(0x0a);
      const cr = this.buffer.indexOf(0x0d);
      if (cr !== -1 && cr !== lf - 1 && (lf !== -1 || cr < this.buffer.byteLength - 1)) throw new StrictHttpError('bare CR in a line');
      if (lf !== -1) {
        if (cr !== lf - 1) throw new StrictHttpError('bare LF: lines must end with CRLF');
        const text = this.take(lf + 1).toString('latin1');
        return text.slice(0, -2);
      }
      if (this.buffer.byteLength > MAX_LINE) throw new StrictHttpError('line too long');
      if (this.eof) throw new StrictHttpError(`connection closed in the middle of a line (${this.buffer.byteLength} bytes)`);
      await this.more();
    }
  }

  private async bytes(count: number): Promise<Buffer> {
    while (this.buffer.byteLength < count) {
      if (this.eof) throw new StrictHttpError(`connection closed after ${this.buffer.byteLength} of ${count} bytes`);
      await this.more();
    }
    return this.take(count);
  }

  private take(count: number): Buffer {
    const taken = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return taken;
  }

  private more(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

function parseField(line: string): [string, string] {
  if (line[0] === ' ' || line[0] === '\t') throw new StrictHttpError('obsolete line folding');
  const colon = line.indexOf(':');
  const name = line.slice(0, colon);
  if (colon <= 0 || !TOKEN.test(name)) throw new StrictHttpError(`bad field name in ${JSON.stringify(line)}`);
  const value = line.slice(colon + 1).trim();
  if (!FIELD_VALUE.test(value)) throw new StrictHttpError(`bad field value in ${JSON.stringify(line)}`);
  return [name.toLowerCase(), value];
}

/** The value of a field that must appear at most once. */
export function header(headers: [string, string][], name: string): string | undefined {
  const values = headers.filter(([n]) => n === name);
  if (values.length > 1) throw new StrictHttpError(`${name} appears ${values.length} times`);
  return values[0]?.[1];
}

function framingOf(status: number, headers: [string, string][]): StrictResponse['framing'] {
  if (status < 200 || status === 204 || status === 304) return 'none';
  const encoding = header(headers, 'transfer-encoding');
  const length = header(headers, 'content-length');
  if (encoding !== undefined && length !== undefined) throw new StrictHttpError('both Transfer-Encoding and Content-Length');
  if (encoding !== undefined) {
    if (encoding.toLowerCase() !== 'chunked') throw new StrictHttpError(`unexpected Transfer-Encoding ${encoding}`);
    return 'chunked';
  }
  if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) throw new StrictHttpError(`bad Content-Length ${length}`);
    return 'length';
  }
  return 'close';
}
