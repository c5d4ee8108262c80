/**
 * One QEMU process per VM node: its command line, its start (headless and detached, so it outlives
 * the CLI like the agents do; the lab's TAP fds are handed over at spawn), and the files it leaves
 * in the node's directory under the lab's state dir:
 *
 *   <lab dir>/vm/<node>/serial.log    everything the guest printed on ttyS0 (also without a client)
 *   <lab dir>/vm/<node>/console.sock  the serial console (`mplab console NODE` attaches here)
 *   <lab dir>/vm/<node>/qmp.sock      the QMP monitor
 *   <lab dir>/vm/<node>/qemu.log      QEMU's own stderr
 *   <lab dir>/vm/<node>/initrd.img    the image's initramfs followed by this node's config archive
 *
 * The management NIC is QEMU user-mode networking restricted to the guest (`restrict=on`: the guest
 * reaches nothing outside), with one host forward from 127.0.0.1:<port> to the guest's SSH port.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stripAnsi } from '../images/live/boot';
import { MGMT_HOST, MGMT_NET } from './bootconfig';

export interface QemuBinary {
  binary: string;
  version: string;
}

/** The qemu-system-x86_64 on PATH with its version, or undefined. */
export function findQemu(binary = process.env.MPLAB_QEMU ?? 'qemu-system-x86_64'): QemuBinary | undefined {
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const m = /version\s+(\S+)/.exec(out);
    return { binary, version: m?.[1] ?? 'unknown' };
  } catch {
    return undefined;
  }
}

export interface VmFiles {
  dir: string;
  serial: string;
  console: string;
  qmp: string;
  log: string;
  initrd: string;
}

export function vmFiles(labDir: string, node: string): VmFiles {
  const dir = join(labDir, 'vm', node);
  return {
    dir,
    serial: join(dir, 'serial.log'),
    console: join(dir, 'console.sock'),
    qmp: join(dir, 'qmp.sock'),
    log: join(dir, 'qemu.log'),
    initrd: join(dir, 'initrd.img'),
  };
}

export interface QemuSpec {
  /** For `-name` and in the process list: mplab-<lab>-<node>. */
  name: string;
  accel: 'kvm' | 'tcg';
  memoryMib: number;
  cpus: number;
  kernel: string;
  initrd: string;
  /** Extra kernel command line words after console=ttyS0 mplab.mode=node. */
  append?: string[];
  files: VmFiles;
  sshPort: number;
  mgmtMac: string;
  /** Lab NICs, in order; each is given the TAP at fd 3 + index. */
  nics: { mac: string; mtu: number }[];
}

/** The QEMU argv (without the binary) for a VM node. */
export function qemuArgs(s: QemuSpec): string[] {
  const a = [
    '-name',
    s.name,
    '-machine',
    'pc',
    '-accel',
    s.accel,
    '-cpu',
    s.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(s.cpus),
    '-m',
    `${s.memoryMib}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // a guest panic or poweroff ends the process: `dead` is then visible at once
    '-no-reboot',
    '-kernel',
    s.kernel,
    '-initrd',
    s.initrd,
    '-append',
    ['console=ttyS0', 'mplab.mode=node', 'panic=-1', ...(s.append ?? [])].join(' '),
    '-chardev',
    `socket,id=ser0,path=${s.files.console},server=on,wait=off,logfile=${s.files.serial},logappend=on`,
    '-serial',
    'chardev:ser0',
    '-qmp',
    `unix:${s.files.qmp},server=on,wait=off`,
    '-netdev',
    `user,id=mgmt,net=${MGMT_NET},host=${MGMT_HOST},restrict=on,hostfwd=tcp:127.0.0.1:${s.sshPort}-:22`,
    '-device',
    `virtio-net-pci,netdev=mgmt,mac=${s.mgmtMac}`,
    '-device',
    'virtio-rng-pci',
  ];
  s.nics.forEach((n, i) => {
    a.push('-netdev', `tap,id=n${i},fd=${3 + i}`);
    a.push('-device', `virtio-net-pci,netdev=n${i},id=nic${i},mac=${n.mac},host_mtu=${n.mtu}`);
  });
  return a;
}

/** A free TCP port on 127.0.0.1 (QEMU binds it a moment later; a clash fails the start loudly). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts QEMU detached with the TAP fds at 3, 4, … and returns its pid. The caller closes its own
 * copies of the fds afterwards (the devices live as long as some process holds them).
 */
export function spawnQemu(binary: string, args: string[], tapFds: number[], logFile: string): number {
  const log = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log, ...tapFds] });
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** The last `lines` lines of a file, or a note that there is none. */
export function tailOf(file: string, lines = 20): string {
  try {
    if (!existsSync(file)) return '(empty)';
    const text = stripAnsi(readFileSync(file, 'latin1'));
    return text.trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
  } catch {
    return '(unreadable)';
  }
}

/** The line the guest's /init prints on the serial console once SSH is up. */
export const READY_LINE = 'mplab: node ready';

export function serialSaysReady(file: string): boolean {
  try {
    return readFileSync(file, 'latin1').includes(READY_LINE);
  } catch {
    return false;
  }
}
