import { RelayError } from '../errors.js';
import { clientKey } from './client-key.js';

/**
 * Admission control for streams: a ceiling per process (503, the client should try another instance) and per client
 * address (429, the client is holding too many), an IPv6 client being its /64 (lib/limits/client-key.ts).
 */
export class ConnectionLimits {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  /**
   * @param onChange hears the slots held and the clients holding them after every take and give-back (the gauges
   * sse_connection_slots_held and sse_connection_slot_clients), so a slot that a refusal kept is visible.
   */
  constructor(
    private readonly maxTotal: number,
    private readonly maxPerClient: number,
    private readonly onChange: (slots: number, clients: number) => void = () => undefined,
  ) {}

  /** Takes a slot for the client at `address` or throws; the returned function gives it back (idempotent). */
  acquire(address: string): () => void {
    const client = clientKey(address);
    if (this.total >= this.maxTotal) {
      throw new RelayError('too_many_connections', `MAX_CONNECTIONS (${this.maxTotal}) reached`, { retryAfterSeconds: 5 });
    }
    const held = this.perClient.get(client) ?? 0;
    if (held >= this.maxPerClient) {
      throw new RelayError('rate_limited', `MAX_CONNECTIONS_PER_CLIENT (${this.maxPerClient}) reached`, { retryAfterSeconds: 10 });
    }
    this.total += 1;
    this.perClient.set(client, held + 1);
    this.onChange(this.total, this.perClient.size);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
      this.onChange(this.total, this.perClient.size);
    };
  }
}
