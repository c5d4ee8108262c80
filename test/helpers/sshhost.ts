/**
 * "Remote hosts" on this machine for tests: each one a network namespace with its own mount
 * namespace (private tmpfs on /run and /tmp, so lab state, `ip netns` names and agent sockets of
 * different hosts never collide) and its own PID namespace (so what runs on a host sees only that
 * host's processes in /proc, as on a real machine — `mplab down --all` there must not see this
 * machine's other labs), running Debian's OpenSSH server as its first process with its own config,
 * host key and authorized key, on an address inside the namespace. Stopping sshd ends the host and
 * everything running on it, like a shutdown. The hosts' eth0 are joined by a bridge in an
 * underlay namespace; the test process (the controller) reaches them through a veth from this
 * namespace into that bridge, on a random /24 of 198.18.0.0/15 (the benchmarking range) not in use.
 *
 *   sshHostsScope();                                   // once per file: removes everything after
 *   const net = await createSshHosts(2);
 *   const s = await SshSession.connect(net.hosts[0].target());
 *
 * Everything made is recorded and removed by `cleanup()` (namespaces by name, processes by pid or by
 * living in one of this helper's namespaces); nothing is matched by prefix.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { SshTarget } from '../../lab/remote/ssh';
import { createNetns, deleteNetns, ipBatch, tag } from './netns';
import { generateKeyPair } from '../../lab/vm/keys';

export const SSHD = '/usr/sbin/sshd';

export interface SshHost {
  /** Short name, e.g. h1 (also the label "host h1"). */
  name: string;
  /** Network namespace of this host (its underlay address lives on its eth0). */
  netns: string;
  address: string;
  port: number;
  user: string;
  /** The controller's private key (OpenSSH format) and the host's current public host key line. */
  privateKey: string;
  publicKey: string;
  hostKey: string;
  /** pid (in this namespace) of the `unshare` that holds the host; sshd is its child. */
  pid: number | undefined;
  /** The sshd log (stderr of sshd -D -e). */
  logFile: string;
  target(over?: Partial<SshTarget>): SshTarget;
  /** Runs argv inside this host (its network and mount namespaces); returns stdout. */
  exec(argv: string[], input?: string): string;
  /** Stops sshd (SIGTERM, waits). The namespaces and the processes sessions started stay. */
  stop(): Promise<void>;
  /** Starts sshd again (same host key unless rotated). */
  start(): Promise<void>;
  /** Stops sshd, makes a new host key, starts again: a "reinstalled" host. */
  rotateHostKey(): Promise<void>;
  /** pids of every process in this host's network namespace or one it made (sessions, agents...). */
  pids(): number[];
  /** Names of the network namespaces this host made (its private /run/netns). */
  innerNetns(): string[];
  /** The host's own processes: the unshare holding it and its sshd listener. */
  daemonPids(): number[];
}

export interface SshHostNet {
  tag: string;
  underlay: string;
  /** The controller's address on the underlay (in this process's namespace). */
  controllerAddress: string;
  prefix: string;
  hosts: SshHost[];
  cleanup(): Promise<void>;
}

const nets = new Set<SshHostNet>();

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A /24 of 198.18.0.0/15 with no address or route on this machine. */
function freePrefix(): string {
  const used = sh('ip', ['-4', '-o', 'addr', 'show']) + sh('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (let i = 0; i < 64; i++) {
    const p = `198.${18 + (Math.random() < 0.5 ? 0 : 1)}.${Math.floor(Math.random() * 256)}`;
    if (!used.includes(`${p}.`)) return p;
  }
  throw new Error('sshhost: no free /24 in 198.18.0.0/15');
}

function nsIdOfNetnsFile(ns: string): number {
  return Number(sh('stat', ['-L', '-c', '%i', `/run/netns/${ns}`]).trim());
}

/** Network namespaces a host made for itself (`ip netns add` there lands in its private /run). */
function innerNetnsInodes(sshdPid: number | undefined): number[] {
  if (!sshdPid) return [];
  const dir = `/proc/${sshdPid}/root/run/netns`;
  try {
    return readdirSync(dir).map((f) => statSync(join(dir, f)).ino);
  } catch {
    return [];
  }
}

function pidsInNetns(inos: number[]): number[] {
  const want = new Set(inos.map((i) => `net:[${i}]`));
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (want.has(readlinkSync(`/proc/${d}/ns/net`))) out.push(Number(d));
    } catch {
      // gone or not ours to read
    }
  }
  return out;
}

/** An ed25519 key pair that parses (lab/vm/keys.ts works around ssh2's malformed keys). */
const genKey = generateKeyPair;

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const s = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return s !== 'Z' && s !== 'X';
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!pids.some(alive)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !pids.some(alive);
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 500);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

function sshdConfig(address: string, dir: string): string {
  return `${[
    `ListenAddress ${address}:22`,
    `HostKey ${dir}/host_ed25519`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    `PidFile ${dir}/sshd.pid`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'AllowStreamLocalForwarding local',
    'AllowTcpForwarding local',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'MaxSessions 64',
    'MaxStartups 64',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
  ].join('\n')}\n`;
}

/** Creates `n` ssh hosts (h1..hn) on a fresh underlay; resolves once every sshd accepts TCP. */
export async function createSshHosts(n: number): Promise<SshHostNet> {
  const t = tag();
  const prefix = freePrefix();
  const base = mkdtempSync(join(tmpdir(), `mplab-sshhost-${t}-`));
  const client = genKey(`mplab-test-${t}`);
  const underlay = createNetns('ul', t);
  const ctlIf = `sh${t}c`;
  const children = new Set<ChildProcess>();
  const hostInodes: number[] = [];
  const net: SshHostNet = {
    tag: t,
    underlay,
    controllerAddress: `${prefix}.1`,
    prefix,
    hosts: [],
    cleanup: async () => {
      nets.delete(net);
      // Whatever lives in one of our namespaces (or in one a host made) was started by this test.
      const inos = [...hostInodes, ...net.hosts.flatMap((h) => innerNetnsInodes(h.pid))];
      const left = pidsInNetns(inos);
      for (const p of left) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await waitGone(left, 3000);
      for (const h of net.hosts) deleteNetns(h.netns);
      deleteNetns(underlay);
      try {
        sh('ip', ['link', 'del', ctlIf]);
      } catch {
        // went with the underlay namespace
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
  nets.add(net);
  ipBatch(underlay, ['link add br0 type bridge', 'link set br0 up']);
  ipBatch(null, [`link add ${ctlIf} type veth peer name ctl netns ${underlay}`]);
  ipBatch(underlay, ['link set ctl master br0', 'link set ctl up']);
  ipBatch(null, [`addr add ${prefix}.1/24 dev ${ctlIf}`, `link set ${ctlIf} up`]);

  for (let i = 1; i <= n; i++) {
    const name = `h${i}`;
    const ns = createNetns(name, t);
    hostInodes.push(nsIdOfNetnsFile(ns));
    const address = `${prefix}.${10 + i}`;
    ipBatch(underlay, [
      `link add ${name} type veth peer name eth0 netns ${ns}`,
      `link set ${name} master br0`,
      `link set ${name} up`,
    ]);
    ipBatch(ns, [`addr add ${address}/24 dev eth0`, 'link set eth0 up']);
    const dir = join(base, name);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'authorized_keys'), `${client.public}\n`, { mode: 0o600 });
    const inside = '/run/sshhost';
    writeFileSync(join(dir, 'sshd_config'), sshdConfig(address, inside));
    const logFile = join(base, `${name}.log`);
    const newHostKey = (): string => {
      const k = genKey(`host-${name}-${t}`);
      writeFileSync(join(dir, 'host_ed25519'), k.private, { mode: 0o600 });
      return k.public.split(' ').slice(0, 2).join(' ');
    };
    let child: ChildProcess | undefined;
    const host: SshHost = {
      name,
      netns: ns,
      address,
      port: 22,
      user: 'root',
      privateKey: client.private,
      publicKey: client.public,
      hostKey: newHostKey(),
      pid: undefined,
      logFile,
      target: (over = {}) => ({
        host: address,
        port: 22,
        user: 'root',
        privateKey: client.private,
        hostKey: host.hostKey,
        label: `host ${name}`,
        ...over,
      }),
      exec: (argv, input) => {
        if (!host.pid) throw new Error(`sshhost ${name}: sshd is not running (its mount namespace is gone)`);
        return sh('nsenter', ['-t', String(host.pid), '-n', '-m', '--', ...argv], input);
      },
      pids: () => pidsInNetns([nsIdOfNetnsFile(ns), ...innerNetnsInodes(host.pid)]),
      daemonPids: () => (host.pid ? [host.pid, ...childrenOf(host.pid)] : []),
      innerNetns: () => {
        if (!host.pid) return [];
        try {
          return readdirSync(`/proc/${host.pid}/root/run/netns`);
        } catch {
          return [];
        }
      },
      start: async () => {
        if (host.pid) return;
        // Bind the key dir under the private /run before /tmp (where it lives) is covered.
        const script = [
          'set -e',
          'mount -t tmpfs -o mode=755 mplab-run /run',
          `mkdir -p /run/sshd ${inside}`,
          `mount --bind ${dir} ${inside}`,
          // A fresh host's root has no dotfiles of this machine's root (bash sources ~/.bashrc
          // for commands run through sshd; whatever this machine's root put there stays here).
          `: > ${dir}/empty`,
          `if [ -f "$HOME/.bashrc" ]; then mount --bind ${dir}/empty "$HOME/.bashrc"; fi`,
          'mount -t tmpfs -o mode=1777 mplab-tmp /tmp',
          `exec ${SSHD} -D -e -f ${inside}/sshd_config`,
        ].join('\n');
        const fd = openSync(logFile, 'a');
        child = spawn(
          'ip',
          [
            'netns',
            'exec',
            ns,
            'unshare',
            '--mount',
            '--propagation',
            'private',
            '--pid',
            '--fork',
            '--mount-proc',
            '--kill-child=SIGTERM',
            'sh',
            '-c',
            script,
          ],
          {
            stdio: ['ignore', fd, fd],
          },
        );
        closeSync(fd);
        children.add(child);
        const c = child;
        c.once('exit', () => {
          children.delete(c);
          if (host.pid === c.pid) host.pid = undefined;
        });
        host.pid = c.pid;
        const until = Date.now() + 10_000;
        while (Date.now() < until) {
          if (c.exitCode !== null || c.signalCode !== null) break;
          if (readFileSync(logFile, 'utf8').includes('Server listening') && (await tcpOpen(address, 22)))
            return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(
          `sshhost ${name}: sshd did not start:\n${readFileSync(logFile, 'utf8').slice(-2000)}`,
        );
      },
      stop: async () => {
        const pid = host.pid;
        if (!pid) return;
        process.kill(pid, 'SIGTERM');
        if (!(await waitGone([pid], 5000))) process.kill(pid, 'SIGKILL');
        await waitGone([pid], 2000);
        host.pid = undefined;
      },
      rotateHostKey: async () => {
        await host.stop();
        host.hostKey = newHostKey();
        await host.start();
      },
    };
    net.hosts.push(host);
    await host.start();
  }
  return net;
}

/** Registers cleanup of every ssh host net this file made; call once at the top of the file. */
export function sshHostsScope(): void {
  afterAll(async () => {
    for (const n of [...nets]) await n.cleanup();
  });
}

/**
 * The live-CD demo (topologies/ietf-livecd.yaml) spread over hosts h1 and h2: the phone-like client
 * and its two access points on h1, the core and the server on h2, so the WiFi and 3G uplinks cross.
 */
export const LIVECD_ON_TWO_HOSTS: Readonly<Record<string, string>> = {
  client: 'h1',
  'wifi-ap': 'h1',
  '3g-gw': 'h1',
  core: 'h2',
  server: 'h2',
};
