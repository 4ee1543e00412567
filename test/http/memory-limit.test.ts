import { describe, expect, it } from '@jest/globals';
import { containerMemoryLimit, overloadMemoryBytes } from '../../functions/memory-limit.js';

const MIB = 1_048_576;

/** A file system with just these files. */
function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

describe('OVERLOAD_MEMORY_BYTES=auto', () => {
  it('reads the container limit from cgroup v2, then v1; "max" and v1\'s huge number are no limit', () => {
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '536870912\n' }))).toBe(512 * MIB);
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeUndefined();
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '268435456\n' }))).toBe(256 * MIB);
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n' }))).toBeUndefined();
    expect(containerMemoryLimit(files({}))).toBeUndefined();
  });

  it('is 75 % of the limit, divided between the workers that share it, and off without a limit; a number stays as given', () => {
    expect(overloadMemoryBytes('auto', 1, 512 * MIB)).toBe(384 * MIB);
    expect(overloadMemoryBytes('auto', 2, 512 * MIB)).toBe(192 * MIB);
    expect(overloadMemoryBytes('auto', 1, undefined)).toBe(0);
    expect(overloadMemoryBytes(64 * MIB, 4, 512 * MIB)).toBe(64 * MIB);
    expect(overloadMemoryBytes(0, 1, 512 * MIB)).toBe(0);
  });
});
