import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';

/**
 * Spawns a daemon (redis-server, redis-sentinel, nginx) that dies with the test process that started it.
 *
 * Helpers stop their daemons in afterAll, but a jest worker that exits first (a timed-out hook, a crash, the end of a
 * run while a start was still under way) left them running, re-parented to init and holding their ports and temporary
 * folders into the next run. setpriv(1) (util-linux, always on Debian) execs the daemon with a parent-death signal, so
 * the kernel delivers `onParentExit` to it the moment the test process goes, however it goes. The pid is the daemon's
 * own (setpriv execs it), so stopping it by pid works as before. nginx gets SIGTERM, which makes its master stop its
 * workers too; redis gets SIGKILL, as the helpers' own stop() does.
 */
export function spawnOwned(command: string, args: readonly string[], options: SpawnOptions, onParentExit: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): ChildProcess {
  if (!existsSync(SETPRIV)) throw new Error(`${SETPRIV} is missing: install it with \`apt-get install -y util-linux\``);
  return spawn(SETPRIV, ['--pdeathsig', onParentExit.replace(/^SIG/, ''), '--', command, ...args], options);
}
