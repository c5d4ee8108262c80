/**
 * Which accelerator QEMU gets. `kvm` and `tcg` are taken as asked; `auto` probes KVM once per machine
 * and falls back to TCG when the probe fails or hangs. The probe boots in two steps: a 512-byte boot
 * sector that writes "KVM" to the first serial port (fails fast where KVM cannot run a guest at all),
 * then the node's own kernel and initramfs up to its /init (`-cpu host`, as a node runs). A /dev/kvm
 * that exists but cannot run a real kernel (PVM hosts: the boot sector's real-mode code runs, a
 * Linux kernel hangs or aborts once it leaves real mode) is why the second step exists: a boot
 * sector alone said "KVM works" there. Each step has a deadline that a working KVM meets many times
 * over. The verdict is cached per machine (kernel release, QEMU version, /dev/kvm's identity) in the
 * user's cache directory; a verdict from the boot sector alone is probed again once a kernel is at
 * hand.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type Accel = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  /** One line for the user when `auto` fell back (or why KVM was chosen), undefined when asked for. */
  note?: string;
}

/** mplab's per-user cache directory ($MPLAB_CACHE_DIR, else $XDG_CACHE_HOME/mplab, ~/.cache/mplab). */
export function cacheDir(): string {
  if (process.env.MPLAB_CACHE_DIR) return process.env.MPLAB_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mplab');
}

/** The probe's boot sector: mov dx,0x3f8; out 'K','V','M','\n'; hlt; jmp back to hlt. */
export function probeBootSector(): Buffer {
  const code = [0xba, 0xf8, 0x03];
  for (const ch of 'KVM\n') code.push(0xb0, ch.charCodeAt(0), 0xee);
  code.push(0xf4, 0xeb, 0xfd);
  const sector = Buffer.alloc(512);
  Buffer.from(code).copy(sector);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

interface CacheEntry {
  key: string;
  kvm: boolean;
  detail: string;
  at: string;
  /** What the verdict rests on: a Linux boot up to /init, or the boot sector alone. */
  probe?: 'kernel' | 'boot-sector';
}

/** A kernel and initramfs the probe may boot (the live image's, which every VM node boots). */
export interface ProbeKernel {
  kernel: string;
  initrd: string;
}

/** What the console shows once a Linux guest reached userspace: the kernel's line, or our /init's. */
const REACHED_INIT = /Run \/init as init process|mplab: init \(/;

function machineKey(qemu: string, kvmDevice: string): string {
  let dev = 'none';
  try {
    const st = statSync(kvmDevice);
    dev = `${st.rdev}:${st.ino}`;
  } catch {
    // no /dev/kvm
  }
  return `${release()}|${qemu}|${dev}`;
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/**
 * Boots the probe sector with `accel`; ok when "KVM" reaches the serial port before `timeoutMs`.
 * The QEMU process is killed (by its pid) in every case.
 */
export async function probeAccel(qemuBinary: string, accel: Accel, timeoutMs = 4000): Promise<ProbeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mplab-accel-'));
  const disk = join(dir, 'probe.img');
  writeFileSync(disk, probeBootSector());
  try {
    return await bootUntil(
      qemuBinary,
      ['-accel', accel, '-m', '16', '-drive', `file=${disk},format=raw,if=ide`],
      /KVM/,
      'the probe guest ran',
      timeoutMs,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Boots `boot`'s Linux kernel and initramfs with `accel` (`-cpu host` under KVM, as a node runs);
 * ok when the console shows the guest reaching /init before `timeoutMs`. Under a working KVM that
 * takes about a second; the deadline is for hangs.
 */
export async function probeKernel(
  qemuBinary: string,
  accel: Accel,
  boot: ProbeKernel,
  timeoutMs = 20_000,
): Promise<ProbeResult> {
  return bootUntil(
    qemuBinary,
    [
      '-accel',
      accel,
      '-cpu',
      accel === 'kvm' ? 'host' : 'max',
      '-m',
      '256',
      '-kernel',
      boot.kernel,
      '-initrd',
      boot.initrd,
      // panic=-1 with -no-reboot: a guest that panics ends QEMU at once instead of waiting out the deadline
      '-append',
      'console=ttyS0 loglevel=7 panic=-1 mplab.mode=shell',
    ],
    REACHED_INIT,
    'a Linux guest reached /init',
    timeoutMs,
  );
}

/** Runs QEMU headless with the serial port on stdout until `marker` shows, it exits, or time runs out. */
function bootUntil(
  qemuBinary: string,
  machineArgs: string[],
  marker: RegExp,
  okDetail: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    const child = spawn(
      qemuBinary,
      [
        '-machine',
        'pc',
        ...machineArgs,
        '-display',
        'none',
        '-monitor',
        'none',
        '-serial',
        'stdio',
        '-no-reboot',
        '-nodefaults',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, detail: `no guest output within ${timeoutMs} ms (the guest hangs)` }),
      timeoutMs,
    );
    child.stdout.on('data', (d: Buffer) => {
      // the marker may straddle two chunks; keep a tail, not the whole console
      out = (out + d.toString('latin1')).slice(-4096);
      if (marker.test(out)) finish({ ok: true, detail: okDetail });
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
    });
    child.on('error', (e) => finish({ ok: false, detail: `cannot run ${qemuBinary}: ${e.message}` }));
    // 'close', not 'exit': what the guest wrote just before QEMU ended is read before deciding
    child.on('close', (code, sig) =>
      finish({
        ok: false,
        detail: `QEMU exited (${sig ? `signal ${sig}` : `code ${code}`})${err.trim() ? `: ${err.trim().split('\n')[0]}` : ''}`,
      }),
    );
  });
}

/** Resolves `auto|kvm|tcg` to the accelerator to run with (probing KVM at most once per machine). */
export async function chooseAccel(
  wanted: 'auto' | Accel,
  qemu: { binary: string; version: string },
  opts: {
    cacheFile?: string;
    timeoutMs?: number;
    kernelTimeoutMs?: number;
    kernel?: ProbeKernel;
    kvmDevice?: string;
  } = {},
): Promise<AccelChoice> {
  if (wanted !== 'auto') return { accel: wanted };
  const kvmDevice = opts.kvmDevice ?? '/dev/kvm';
  if (!existsSync(kvmDevice))
    return { accel: 'tcg', note: 'no /dev/kvm: VMs run under TCG (emulation, slower)' };
  const file = opts.cacheFile ?? join(cacheDir(), 'accel.json');
  const key = machineKey(qemu.version, kvmDevice);
  let entry: CacheEntry | undefined;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as CacheEntry;
    if (c.key === key) entry = c;
  } catch {
    // no cache yet
  }
  // a "yes" from the boot sector alone is not trusted once a real kernel can be tried
  if (entry?.kvm && entry.probe !== 'kernel' && opts.kernel) entry = undefined;
  if (!entry) {
    let r = await probeAccel(qemu.binary, 'kvm', opts.timeoutMs);
    let probe: CacheEntry['probe'] = 'boot-sector';
    if (r.ok && opts.kernel) {
      r = await probeKernel(qemu.binary, 'kvm', opts.kernel, opts.kernelTimeoutMs);
      probe = 'kernel';
    }
    entry = { key, kvm: r.ok, detail: r.detail, at: new Date().toISOString(), probe };
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(entry)}\n`);
    } catch {
      // an unwritable cache only costs a probe next time
    }
  }
  if (entry.kvm) return { accel: 'kvm' };
  return { accel: 'tcg', note: `KVM does not run guests here (${entry.detail}): VMs run under TCG (slower)` };
}
