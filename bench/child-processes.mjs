// Load-generating child processes driven over IPC: each request carries an id, and its reply comes back with the same id.
import { fork } from 'node:child_process';

export class ChildProcesses {
  /** Forks `processes` copies of `script`; `name` says which kind of child exited in an error. */
  constructor(script, processes, name) {
    this.children = Array.from({ length: processes }, () => fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.name = name;
    this.nextId = 1;
  }

  /** Sends `message` to `child` and resolves with its reply; rejects if the child exits first. */
  call(child, message) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (reply) => {
        if (reply.id !== id) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(reply);
      };
      const onExit = (code) => reject(new Error(`${this.name} exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ ...message, id });
    });
  }

  /** The same message to every child; resolves with their replies. */
  all(message) {
    return Promise.all(this.children.map((child) => this.call(child, message)));
  }
}
