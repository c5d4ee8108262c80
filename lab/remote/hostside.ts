/**
 * The host side of a multi-host lab: what the controller asks a host to do, run there with the
 * lab's own code (Lab.up of that host's share builds namespaces, veths, VXLAN ends, shaping,
 * emulator and agents exactly as a one-host lab; its state stays in that host's /run/mplab).
 *
 * Bundled as dist/host.js and deployed beside agent.js and emulator.js; the controller runs
 * `node host.js OP` over SSH with the request as JSON on stdin and reads one JSON answer on stdout
 * (`{ ok: true, result }` or `{ ok: false, exitCode, message }`). For the local machine the
 * controller calls `handle` in-process.
 */
import { readFileSync } from 'node:fs';
import { run } from '../exec';
import { exitCodeOf } from '../errors';
import { Lab, type LinkChangeRequest } from '../lab';
import { netemAvailable } from '../links/shaping';
import { listLabs } from '../state';
import type { LabModel } from '../topology/model';

export type HostOp =
  | { op: 'facts'; peers: string[] }
  | { op: 'up'; model: LabModel; agentTimeoutMs?: number }
  | { op: 'down'; lab: string }
  | { op: 'downAll' }
  | { op: 'status'; lab: string }
  | { op: 'changeLink'; lab: string; id: string; end: 'a' | 'b'; change: LinkChangeRequest }
  | { op: 'exec'; lab: string; node: string; argv: string[]; input?: string; timeoutMs?: number }
  | { op: 'probeUp'; lab: string; tunnels: ProbeTunnel[] }
  | { op: 'probePing'; lab: string; targets: { addr: string; size: number }[] }
  | { op: 'probeDown'; lab: string };

export interface ProbeTunnel {
  vni: number;
  local: string;
  remote: string;
  port: number;
  /** Inner addresses (/30) of this end and the peer's. */
  addr: string;
  peerAddr: string;
  mtu: number;
}

export interface HostFacts {
  node: string;
  uid: number;
  netem: boolean;
  /** Underlay MTU towards each peer address (the route's MTU, else its device's). */
  mtu: Record<string, number>;
  /** Labs with state on this host. */
  labs: string[];
}

/** The probe namespace of a lab on a host (a node name never starts with "-"). */
export function probeNetns(lab: string): string {
  return `mplab-${lab}--probe`;
}

async function routeMtu(peer: string): Promise<number> {
  const r = await run('ip', ['-o', 'route', 'get', peer], { allowFail: true });
  if (r.code !== 0) throw new Error(`no route to ${peer}: ${r.stderr.trim()}`);
  const m = /\bmtu (\d+)/.exec(r.stdout);
  if (m) return Number(m[1]);
  const dev = /\bdev (\S+)/.exec(r.stdout)?.[1];
  if (!dev) return 1500;
  if (dev === 'lo') return 1500;
  return Number(readFileSync(`/sys/class/net/${dev}/mtu`, 'utf8').trim());
}

export async function handle(req: HostOp): Promise<unknown> {
  switch (req.op) {
    case 'facts': {
      const mtu: Record<string, number> = {};
      for (const p of req.peers) mtu[p] = await routeMtu(p);
      const facts: HostFacts = {
        node: process.versions.node,
        uid: typeof process.getuid === 'function' ? process.getuid() : -1,
        netem: await netemAvailable(),
        mtu,
        labs: listLabs(),
      };
      return facts;
    }
    case 'up': {
      const lab = await Lab.up(req.model, req.agentTimeoutMs ? { agentTimeoutMs: req.agentTimeoutMs } : {});
      return {
        timings: lab.state.timings,
        agents: lab.state.processes
          .filter((p) => p.kind === 'agent')
          .map((p) => ({ node: p.owner, socket: p.socket, pid: p.pid })),
      };
    }
    case 'down':
      return Lab.down(req.lab);
    case 'downAll':
      return Lab.downAll();
    case 'status':
      return Lab.open(req.lab).status();
    case 'changeLink':
      await Lab.open(req.lab).changeLink(req.id, req.end, req.change);
      return { ok: true };
    case 'exec':
      return Lab.open(req.lab).exec(req.node, req.argv, {
        ...(req.input !== undefined ? { input: req.input } : {}),
        ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
      });
    case 'probeUp': {
      const ns = probeNetns(req.lab);
      await run('ip', ['netns', 'add', ns]);
      const lines = req.tunnels.flatMap((t, i) => [
        `link add name pr${i} netns ${ns} mtu ${t.mtu} type vxlan id ${t.vni} local ${t.local} remote ${t.remote} dstport ${t.port} nolearning`,
      ]);
      await run('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
      const inner = req.tunnels.flatMap((t, i) => [`addr add ${t.addr}/30 dev pr${i}`, `link set pr${i} up`]);
      await run('ip', ['-n', ns, '-batch', '-'], { input: `${['link set lo up', ...inner].join('\n')}\n` });
      return { ok: true };
    }
    case 'probePing': {
      const ns = probeNetns(req.lab);
      const out: { addr: string; size: number; ok: boolean; smallOk: boolean }[] = [];
      for (const t of req.targets) {
        const ping = (size: number) =>
          run(
            'ip',
            [
              'netns',
              'exec',
              ns,
              'ping',
              '-n',
              '-q',
              '-c',
              '3',
              '-i',
              '0.2',
              '-W',
              '1',
              '-M',
              'do',
              '-s',
              String(size),
              t.addr,
            ],
            { allowFail: true },
          );
        const big = await ping(t.size);
        const ok = big.code === 0;
        const smallOk = ok || (await ping(56)).code === 0;
        out.push({ addr: t.addr, size: t.size, ok, smallOk });
      }
      return out;
    }
    case 'probeDown':
      await run('ip', ['netns', 'del', probeNetns(req.lab)], { allowFail: true });
      return { ok: true };
  }
}

/**
 * `node host.js serve`: one request per line on stdin (`{ id, req }`), one answer per line on
 * stdout (`{ id, ok, result | exitCode, message }`), until stdin ends. The controller keeps one
 * per host while it works, so a link change does not pay a Node start-up on the host.
 */
export function hostServe(): void {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      if (!line) continue;
      let msg: { id: number; req: HostOp };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      handle(msg.req).then(
        (result) =>
          process.stdout.write(`${JSON.stringify({ id: msg.id, ok: true, result: result ?? null })}\n`),
        (e: unknown) =>
          process.stdout.write(
            `${JSON.stringify({ id: msg.id, ok: false, exitCode: exitCodeOf(e), message: (e as Error).message })}\n`,
          ),
      );
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

/** The entry of dist/host.js: `node host.js OP` with the request on stdin, or `serve`. */
export async function hostMain(argv: string[]): Promise<void> {
  const op = argv[0];
  if (op === 'serve') return hostServe();
  let answer: unknown;
  try {
    const text = readFileSync(0, 'utf8');
    const req = { ...(text.trim() ? JSON.parse(text) : {}), op } as HostOp;
    answer = { ok: true, result: await handle(req) };
  } catch (e) {
    answer = { ok: false, exitCode: exitCodeOf(e), message: (e as Error).message };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
