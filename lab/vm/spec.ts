/**
 * What a VM node's `vm:` block may say, and the floors it is checked against. Pure: the topology
 * planner calls it with positions, the VM backend with the live image's figures.
 */

/** Default guest memory: the live image unpacks into RAM (rootfs), Node and the agent run there. */
export const VM_DEFAULT_MEMORY_MIB = 512;
/**
 * The least memory the live image boots in: its initramfs (kernel modules, busybox, dropbear, Node
 * and the bundles, ~100 MiB unpacked) lives in the guest's RAM, and Node needs ~60 MiB more to start.
 */
export const VM_MIN_MEMORY_MIB = 256;
export const VM_MAX_MEMORY_MIB = 64 * 1024;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const SIZE_RE = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?b)?\s*$/i;

/** A memory size in MiB: "512mb", "512m", "512MiB", "1g", "1.5G"; a bare number is MiB. */
export function parseMemory(v: unknown): Parsed<number> {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v <= 0) return { ok: false, message: `memory ${v}: a whole number of MiB` };
    return { ok: true, value: v };
  }
  if (typeof v !== 'string') return { ok: false, message: 'memory is a size like "512mb" or "1g"' };
  const m = SIZE_RE.exec(v);
  if (!m) return { ok: false, message: `memory "${v}": expected a size like "512mb" or "1g"` };
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  if (unit === '' && m[3] !== undefined)
    return { ok: false, message: `memory "${v}": bytes are too small a unit; write "512mb" or "1g"` };
  const mib = unit === 'k' ? n / 1024 : unit === 'g' ? n * 1024 : unit === 't' ? n * 1024 * 1024 : n;
  if (!Number.isInteger(mib)) return { ok: false, message: `memory "${v}" is not a whole number of MiB` };
  return { ok: true, value: mib };
}

/** Why this much memory cannot work, or undefined when it can. */
export function memoryProblem(mib: number, floorMib = VM_MIN_MEMORY_MIB): string | undefined {
  if (mib < floorMib)
    return `${mib} MiB is below what the live image needs to boot (${floorMib} MiB: its root file system lives in RAM)`;
  if (mib > VM_MAX_MEMORY_MIB) return `${mib} MiB is more than mplab gives one VM (${VM_MAX_MEMORY_MIB} MiB)`;
  return undefined;
}
