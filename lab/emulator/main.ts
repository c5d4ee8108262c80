/**
 * The emulator process: `node dist/emulator.js --config FILE` (or main.ts through tsx).
 * Main thread: creates every TAP (inside the nodes' namespaces), configures them with one
 * `ip -batch` per namespace, serves the control socket (newline-delimited JSON), and relays
 * requests to the data-plane worker (this same file, run as a worker thread; see dataplane.ts).
 * SIGTERM/SIGINT or `stop`: the worker stops, the TAP fds close (the devices vanish with them),
 * the socket file is removed. Nothing survives the process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type DataplaneInit, type DataplaneReply, type DataplaneRequest, runDataplane } from './dataplane';
import { validate } from './pipeline';
import { createTap, EFD_CLOEXEC, EFD_NONBLOCK, inNetns, setRealtime, sys, sysError } from './sys';
import { loadTrace } from './trace';
import type { ControlRequest, ControlResponse, EmulatorConfig } from './types';

type WithoutRid<T> = T extends unknown ? Omit<T, 'rid'> : never;

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} emulator[${process.pid}] ${msg}\n`);
}

function parseArgs(argv: string[]): { config: string } {
  const i = argv.indexOf('--config');
  const config = i >= 0 ? argv[i + 1] : undefined;
  if (!config) throw new Error('usage: emulator --config FILE');
  return { config };
}

function checkConfig(c: EmulatorConfig): void {
  if (!c.socket) throw new Error('config: socket missing');
  if (!Array.isArray(c.links) || c.links.length === 0) throw new Error('config: no links');
  const ids = new Set<string>();
  for (const l of c.links) {
    if (ids.has(l.id)) throw new Error(`config: duplicate link id ${l.id}`);
    ids.add(l.id);
    for (const [name, p] of [
      ['ab', l.ab],
      ['ba', l.ba],
    ] as const) {
      try {
        validate(p ?? {});
        if (p?.trace) loadTrace(p.trace);
      } catch (e) {
        throw new Error(`link ${l.id} ${name}: ${(e as Error).message}`);
      }
    }
  }
}

/**
 * The data plane runs this same file as a worker thread. From source (tsx), a worker does not get
 * the --import hooks, so it loads this file through tsx's tsImport.
 */
function startWorker(init: DataplaneInit): Worker {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return new Worker(self, { workerData: init });
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(pathToFileURL(self).href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true, workerData: init });
}

async function main(): Promise<void> {
  const { config: configPath } = parseArgs(process.argv.slice(2));
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as EmulatorConfig;
  checkConfig(config);
  const opened: number[] = [];
  const closeAll = (): void => {
    for (const fd of opened.splice(0)) sys.close(fd);
  };
  const fds: [number, number][] = [];
  let maxMtu = 1500;
  try {
    // Create every TAP first, then configure each namespace with one ip batch.
    const perNs = new Map<string, string[]>();
    for (const l of config.links) {
      const pair: number[] = [];
      for (const end of [l.a, l.b]) {
        const fd = createTap(end.netns ?? null, end.ifname);
        opened.push(fd);
        pair.push(fd);
        const mtu = end.mtu ?? 1500;
        maxMtu = Math.max(maxMtu, mtu);
        const cmds = perNs.get(end.netns ?? '') ?? [];
        cmds.push(`link set dev ${end.ifname}${end.mac ? ` address ${end.mac}` : ''} mtu ${mtu} up`);
        perNs.set(end.netns ?? '', cmds);
      }
      fds.push([pair[0]!, pair[1]!]);
    }
    for (const [ns, cmds] of perNs) {
      // Spawned while this thread sits in the namespace, so names and /proc paths both work.
      inNetns(ns || null, () =>
        execFileSync('ip', ['-batch', '-'], {
          input: `${cmds.join('\n')}\n`,
          stdio: ['pipe', 'ignore', 'pipe'],
        }),
      );
    }
  } catch (e) {
    closeAll();
    throw e;
  }
  const wakeFd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) as number;
  if (wakeFd < 0) throw sysError('eventfd');
  opened.push(wakeFd);

  const init: DataplaneInit = {
    links: config.links,
    fds,
    wakeFd,
    seed: config.seed ?? 1,
    carrier: config.carrier ?? true,
    rtPriority: config.rtPriority ?? 10,
    slotSize: Math.ceil((maxMtu + 32) / 64) * 64,
  };
  const worker = startWorker(init);
  const waiting = new Map<number, (r: DataplaneReply) => void>();
  let rid = 0;
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  const toWorker = (req: WithoutRid<DataplaneRequest>): Promise<DataplaneReply> =>
    new Promise((resolve) => {
      const id = ++rid;
      waiting.set(id, resolve);
      worker.postMessage({ ...req, rid: id });
      sys.write(wakeFd, one, 8);
    });
  let dataplaneReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    dataplaneReady = r;
  });
  worker.on('message', (r: DataplaneReply) => {
    if (r.rid === 0) {
      dataplaneReady();
      return;
    }
    const cb = waiting.get(r.rid);
    waiting.delete(r.rid);
    cb?.(r);
  });

  let stopping = false;
  const server = createServer();
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    server.close();
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    await Promise.race([toWorker({ cmd: 'stop' }), new Promise((r) => setTimeout(r, 2000))]);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    closeAll();
    rmSync(config.socket, { force: true });
    log('stopped');
    process.exit(0);
  };
  worker.on('error', (e) => {
    log(`data plane failed: ${e.stack ?? e.message}`);
    closeAll();
    rmSync(config.socket, { force: true });
    process.exit(1);
  });
  worker.on('exit', (code) => {
    if (!stopping) {
      log(`data plane exited (${code})`);
      closeAll();
      rmSync(config.socket, { force: true });
      process.exit(1);
    }
  });

  const answer = async (conn: Socket, line: string): Promise<void> => {
    let req: ControlRequest;
    let res: ControlResponse;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      conn.write(`${JSON.stringify({ ok: false, error: 'bad JSON' })}\n`);
      return;
    }
    const id = req.id;
    switch (req.cmd) {
      case 'ping':
        res = { id, ok: true, result: { pid: process.pid, links: config.links.map((l) => l.id) } };
        break;
      case 'stop':
        conn.end(`${JSON.stringify({ id, ok: true, result: { pid: process.pid } })}\n`);
        void shutdown('stop request');
        return;
      case 'set':
      case 'up':
      case 'down':
      case 'stats': {
        const { id: _drop, ...rest } = req;
        const r =
          rest.cmd === 'set'
            ? await toWorker({ ...rest, dir: rest.dir ?? 'both', replace: rest.replace ?? false })
            : await toWorker(rest);
        res = r.ok ? { id, ok: true, result: r.result } : { id, ok: false, error: r.error };
        if (r.ok && req.cmd !== 'stats') log(`${req.cmd} ${JSON.stringify(req)}`);
        break;
      }
      default:
        res = { id, ok: false, error: `unknown command ${(req as { cmd?: unknown }).cmd}` };
    }
    if (!conn.destroyed) conn.write(`${JSON.stringify(res)}\n`);
  };
  server.on('connection', (conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => {});
    conn.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) void answer(conn, line);
      }
    });
  });
  // The control socket opens (and startEmulator returns) only once frames can flow.
  await ready;
  if (init.rtPriority > 0) {
    // Every thread of the process, not only the data plane's: V8's GC helper threads must not be
    // starved while the real-time data-plane thread waits for them (priority inversion).
    for (const tid of readdirSync('/proc/self/task')) setRealtime(init.rtPriority, Number(tid));
  }
  rmSync(config.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.socket, () => resolve());
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  log(
    `ready: lab ${config.lab}, ${config.links.length} link(s): ${config.links
      .map((l) => `${l.id} [${l.a.netns ?? '-'}:${l.a.ifname} <-> ${l.b.netns ?? '-'}:${l.b.ifname}]`)
      .join(', ')}`,
  );
}

if (isMainThread) {
  main().catch((e: Error) => {
    log(`failed: ${e.stack ?? e.message}`);
    process.exit(1);
  });
} else {
  // A throw here surfaces as the worker's 'error' event in the main thread (logged, exit 1).
  runDataplane(workerData as DataplaneInit, parentPort!);
}
