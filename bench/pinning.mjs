// `--pin`: the server on one CPU, the load (client processes, publisher, this orchestrator) on another, as the
// independent harness of issue 17 and every peer (nchan, Pushpin) is measured. Linux only: `taskset` (util-linux) sets
// the affinity, /proc/self/status says which CPUs this process may use.
/* global process */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Expands a kernel CPU list ("0-3,6") into numbers. */
export function parseCpuList(text) {
  const cpus = [];
  for (const part of text.trim().split(',').filter(Boolean)) {
    const [from, to = from] = part.split('-').map(Number);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

function allowedCpus() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1];
  if (list === undefined) throw new Error('--pin: /proc/self/status has no Cpus_allowed_list, so the CPUs this process may use are unknown (Linux only)');
  return parseCpuList(list);
}

/**
 * The CPUs to pin to: { server, load }, the first two this process may use. Throws, saying why, when `taskset` is
 * missing or fewer than two CPUs are available.
 */
export function choosePinning() {
  const probe = spawnSync('taskset', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`--pin needs taskset, which is not runnable here (${probe.error?.message ?? `exit ${probe.status}`}): apt-get install util-linux, or run without --pin`);
  }
  const cpus = allowedCpus();
  if (cpus.length < 2) {
    throw new Error(`--pin needs two CPUs, one for the server and one for the load, but this process may use only CPU ${cpus.join(',')} (Cpus_allowed_list); run without --pin, or on a machine or cgroup with two CPUs`);
  }
  return { server: cpus[0], load: cpus[1] };
}

/** Pins a running process and all its threads (libuv pool, V8 workers) to `cpu`. */
export function pinProcess(pid, cpu) {
  const result = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`taskset could not pin pid ${pid} to CPU ${cpu}: ${result.stderr.trim() || `exit ${result.status}`}`);
}

/** Pins this orchestrator process (it runs the publisher) to the load CPU. */
export function pinSelf(cpu) {
  pinProcess(process.pid, cpu);
}
