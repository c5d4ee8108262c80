/**
 * The netns backend: each node is a network namespace `mplab-<lab>-<node>`; each link a veth pair
 * created directly inside the two namespaces under the model's interface names (`ip link add NAME
 * netns A type veth peer name NAME2 netns B`), so no end ever sits in the host's namespace and
 * nothing can be left there by a crash. Everything is applied with a few batches: one `ip -batch`
 * in the root namespace for all namespaces and veths, then one `ip -n NS -batch` (and one
 * `tc -n NS -batch` where shaped) per node, run in parallel.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipBatch, run } from '../exec';
import type { NodeModel, RouteModel } from '../topology/model';
import type { Backend, ExecOptions, WireSpec } from './types';

/** Where iproute2 keeps named namespaces. */
const NETNS_DIR = '/run/netns';

/** Runs async jobs with at most `limit` in flight (2 cores: avoid a process storm on big labs). */
export async function parallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

function routeLine(r: RouteModel): string {
  // Batch lines take no options (no -6): the family comes from the addresses, and an IPv6
  // default is written ::/0.
  const parts = ['route replace'];
  // 'unreachable' (a per-interface table's default without a gateway): no via/dev.
  const type = (r as { type?: string }).type;
  if (type) parts.push(type);
  parts.push(r.family === 6 && r.dst === 'default' ? '::/0' : r.dst);
  if (r.nexthops && r.nexthops.length > 0) {
    for (const h of r.nexthops) parts.push(`nexthop via ${h.via} dev ${h.dev}`);
  } else {
    if (r.via) parts.push(`via ${r.via}`);
    if (r.dev) parts.push(`dev ${r.dev}`);
  }
  if (r.table !== undefined) parts.push(`table ${r.table}`);
  if (r.src) parts.push(`src ${r.src}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  return parts.join(' ');
}

/** Interfaces a route goes out of. */
function routeDevs(r: RouteModel): string[] {
  if (r.nexthops) return r.nexthops.map((h) => h.dev);
  return r.dev ? [r.dev] : [];
}

/** The `ip -batch` lines configuring one node (exported for unit tests). */
export function nodeLines(node: NodeModel, downIfaces: Set<string>): string[] {
  const lines = ['link set dev lo up'];
  if (node.bridge) lines.push(`link add name ${node.bridge} type bridge`, `link set dev ${node.bridge} up`);
  for (const i of node.interfaces) {
    lines.push(`link set dev ${i.name} mtu ${i.mtu} address ${i.mac}`);
    if (node.bridge) lines.push(`link set dev ${i.name} master ${node.bridge}`);
    for (const a of i.addresses) {
      // nodad: an IPv6 address is usable at once instead of after duplicate address detection.
      lines.push(
        a.family === 6
          ? `addr add ${a.address}/${a.prefix} dev ${i.name} nodad`
          : `addr add ${a.address}/${a.prefix} dev ${i.name}`,
      );
    }
    if (!downIfaces.has(i.name)) lines.push(`link set dev ${i.name} up`);
  }
  for (const r of node.routes) {
    if (routeDevs(r).some((d) => downIfaces.has(d))) continue;
    lines.push(routeLine(r));
  }
  for (const rule of node.rules) {
    if (rule.family === 4)
      lines.push(`rule add from ${rule.from} lookup ${rule.table} priority ${rule.priority}`);
  }
  return lines;
}

/**
 * IPv6 policy rules: `ip rule` takes its family from the command line (-6), not from the address,
 * and batch lines take no options, so these go to a second batch run with `ip -6`.
 */
export function nodeLines6(node: NodeModel): string[] {
  return node.rules
    .filter((r) => r.family === 6)
    .map((r) => `rule add from ${r.from} lookup ${r.table} priority ${r.priority}`);
}

/** Kernel sysctls of a node (forwarding and the like) as `sysctl -w` arguments. */
export function nodeSysctls(node: NodeModel): string[] {
  const out = Object.entries(node.sysctls).map(([k, v]) => `${k}=${v}`);
  if (node.forwarding) {
    for (const k of ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'])
      if (!(k in node.sysctls)) out.push(`${k}=1`);
  }
  return out;
}

export class NetnsBackend implements Backend {
  readonly kind = 'netns';

  handleOf(lab: string, node: string): string {
    return `mplab-${lab}-${node}`;
  }

  async createNodes(handles: string[]): Promise<void> {
    await ipBatch(
      null,
      handles.map((h) => `netns add ${h}`),
    );
  }

  /**
   * Each end gets an explicit interface index, different from its peer's: the kernel treats a
   * carrier change of a device whose index equals its link's (two fresh namespaces both number
   * their first veth 2) as non-urgent and may delay it up to a second, leaving e.g. a bridge port
   * disabled for that long after `up`.
   */
  async wireLinks(links: WireSpec[]): Promise<void> {
    await ipBatch(
      null,
      links.map(
        (l, k) =>
          `link add name ${l.a.ifname} index ${100 + 2 * k} netns ${l.a.handle} type veth peer name ${l.b.ifname} index ${101 + 2 * k} netns ${l.b.handle}`,
      ),
    );
  }

  /**
   * One `ip -n NS -batch` per node would cost a process spawn from Node per node (and one more per
   * router for its sysctls). Instead each node's lines go to a file and a root `ip -batch` runs
   * `netns exec NS ip -batch FILE` (and `netns exec NS sysctl -w …`) for every node: iproute2 forks
   * those itself, far cheaper than spawning from Node. Two such batches run side by side.
   */
  async configureNodes(nodes: { node: NodeModel; handle: string; downIfaces: Set<string> }[]): Promise<void> {
    if (nodes.length === 0) return;
    const dir = mkdtempSync(join(tmpdir(), 'mplab-cfg-'));
    try {
      const jobs = nodes.map(({ node, handle, downIfaces }, i) => {
        const file = join(dir, `${i}.ip`);
        writeFileSync(file, `${nodeLines(node, downIfaces).join('\n')}\n`);
        const lines = [`netns exec ${handle} ip -batch ${file}`];
        const v6 = nodeLines6(node);
        if (v6.length > 0) {
          writeFileSync(`${file}6`, `${v6.join('\n')}\n`);
          lines.push(`netns exec ${handle} ip -6 -batch ${file}6`);
        }
        const sysctls = nodeSysctls(node);
        if (sysctls.length > 0) lines.push(`netns exec ${handle} sysctl -q -w ${sysctls.join(' ')}`);
        return lines;
      });
      const chunks = nodes.length >= 8 ? 2 : 1;
      const per = Math.ceil(jobs.length / chunks);
      await Promise.all(
        Array.from({ length: chunks }, (_, c) => ipBatch(null, jobs.slice(c * per, (c + 1) * per).flat())),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * With `force`, tc keeps going past failing lines; a failing `qdisc del` (nothing to delete) is
   * expected then, any other failing line is still an error.
   */
  async tc(handle: string, lines: string[], force = false): Promise<void> {
    if (lines.length === 0) return;
    const r = await run('tc', ['-n', handle, ...(force ? ['-force'] : []), '-batch', '-'], {
      input: `${lines.join('\n')}\n`,
      allowFail: force,
    });
    if (r.code === 0 || !force) return;
    const failed = [...r.stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1]));
    const real = failed.filter((n) => !lines[n - 1]?.startsWith('qdisc del'));
    if (real.length > 0 || failed.length === 0)
      throw new Error(
        `tc in ${handle} failed: ${r.stderr.trim()} (lines: ${real.map((n) => lines[n - 1]).join('; ')})`,
      );
  }

  async setIfaceUp(handle: string, node: NodeModel, ifname: string, up: boolean): Promise<void> {
    const lines = [`link set dev ${ifname} ${up ? 'up' : 'down'}`];
    // Taking an interface down flushes its IPv4 routes; bring back the planned ones with it.
    if (up) for (const r of node.routes) if (routeDevs(r).includes(ifname)) lines.push(routeLine(r));
    await ipBatch(handle, lines);
  }

  exec(handle: string, argv: string[], options: ExecOptions = {}) {
    return run('ip', ['netns', 'exec', handle, ...argv], options);
  }

  spawnDetached(handle: string, argv: string[], logFile: string): number {
    const fd = openSync(logFile, 'a', 0o600);
    try {
      // `ip netns exec` execs the command after setns, so the pid is the command's own.
      const child = spawn('ip', ['netns', 'exec', handle, ...argv], {
        detached: true,
        stdio: ['ignore', fd, fd],
      });
      child.on('error', () => {});
      child.unref();
      if (child.pid === undefined) throw new Error(`could not start ${argv[0]} in ${handle}`);
      return child.pid;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Pids of the processes inside these namespaces: one pass over /proc comparing each process's
   * network namespace inode with the namespaces' (what `ip netns pids` does, for all at once).
   */
  async pids(handle: string): Promise<number[]> {
    return this.pidsOf([handle]);
  }

  async pidsOf(handles: string[]): Promise<number[]> {
    const inodes = new Set<string>();
    for (const h of handles) {
      try {
        inodes.add(`net:[${statSync(join(NETNS_DIR, h)).ino}]`);
      } catch {
        // no such namespace
      }
    }
    if (inodes.size === 0) return [];
    const out: number[] = [];
    for (const e of readdirSync('/proc')) {
      const c = e.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      try {
        if (inodes.has(readlinkSync(`/proc/${e}/ns/net`))) out.push(Number(e));
      } catch {
        // gone, or a kernel thread
      }
    }
    return out;
  }

  async destroy(handles: string[]): Promise<void> {
    const existing = new Set(await this.findAll('mplab-'));
    const gone = handles.filter((h) => existing.has(h));
    if (gone.length === 0) return;
    // -force: keep going when one is already gone; deleting a namespace deletes its veth ends.
    await ipBatch(
      null,
      gone.map((h) => `netns del ${h}`),
      true,
    );
  }

  async findAll(prefix: string): Promise<string[]> {
    try {
      return readdirSync(NETNS_DIR)
        .filter((n) => n.startsWith(prefix))
        .sort();
    } catch {
      return [];
    }
  }
}
