// The parent's handle on the load-generating processes: spreads subscribers over them and merges their counts.
/* global URL, setTimeout */
import { ChildProcesses } from './child-processes.mjs';
import { Histogram } from './histogram.mjs';
import { pinProcess } from './pinning.mjs';

const CLIENT = new URL('./load-client.mjs', import.meta.url);

/** `processes` load clients, each a separate Node process with its own event loop (and file limit), on `cpu` if given. */
export class ClientPool extends ChildProcesses {
  /**
   * `cpu`: pin the clients there (`--pin`). `client`: the load client script (default load-client.mjs; the compression
   * bench uses gzip-load-client.mjs).
   */
  constructor(processes, cpu, client = CLIENT) {
    super(client, processes, 'load client');
    // `--pin`: with all their threads, on the load CPU (threads started later inherit it).
    if (cpu !== undefined) for (const child of this.children) pinProcess(child.pid, cpu);
    this.subscribers = 0;
  }

  /**
   * Opens subscribers until `total` are open in all; resolves with how many are open and how many attempts failed.
   * Streams refused or closed at once (an overloaded relay answers with a retry hint and ends the stream) are opened
   * again after a second, as EventSource would, up to `rounds` times.
   */
  async grow(total, target, rounds = 3) {
    let failed = 0;
    for (let round = 0; round < rounds && this.subscribers < total; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 1_000));
      const missing = total - this.subscribers;
      const share = Math.ceil(missing / this.children.length);
      const replies = await Promise.all(this.children.map((child, i) => this.call(child, {
        cmd: 'connect', count: Math.max(0, Math.min(share, missing - i * share)), ...target,
      })));
      this.subscribers = replies.reduce((sum, r) => sum + r.open, 0);
      failed += replies.reduce((sum, r) => sum + r.failed, 0);
    }
    return { open: this.subscribers, failed };
  }

  reset() {
    return this.all({ cmd: 'reset' });
  }

  /** Frames, bytes, cut streams and the merged latency histogram, over all clients since the last reset. */
  async stats() {
    const replies = await this.all({ cmd: 'stats' });
    const histogram = new Histogram();
    for (const reply of replies) histogram.merge(reply.histogram);
    const sum = (key) => replies.reduce((total, reply) => total + reply[key], 0);
    this.subscribers = sum('open');
    return { frames: sum('frames'), bytes: sum('bytes'), cuts: sum('cuts'), cpuSeconds: sum('cpuSeconds'), open: this.subscribers, histogram };
  }

  async closeAll() {
    await this.all({ cmd: 'close' });
    this.subscribers = 0;
  }

  async exit() {
    for (const child of this.children) {
      child.send({ cmd: 'exit' });
      child.disconnect();
    }
  }
}
