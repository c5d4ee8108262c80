/**
 * The lab's API to the userspace link emulator (docs/emulator.md). One emulator process per lab
 * carries the frames of all its emulated links: for each link it holds two TAP devices, created
 * directly inside the two nodes' namespaces under the link's interface names, and forwards frames
 * between them through a per-direction pipeline (loss, duplication, rate + drop-tail queue, delay,
 * jitter, reordering, trace replay). Control: a unix socket speaking newline-delimited JSON.
 *
 *   const h = await startEmulator({ lab, stateDir, links });   // TAPs exist when this resolves
 *   await setLink(h.socket, 'a:eth1--b:eth1', 'ab', { delayMs: 20 });
 *   await linkUpDown(h.socket, id, false);
 *   const s = await stats(h.socket);
 *   await stopEmulator(h);                                     // TAPs gone when this resolves
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  ControlRequest,
  ControlResponse,
  Direction,
  EmuDirParams,
  EmuLinkConfig,
  EmulatorConfig,
  EmulatorStats,
} from './types';

export type {
  BurstLoss,
  ControlRequest,
  ControlResponse,
  Direction,
  DirStats,
  DropCause,
  EmuDirParams,
  EmuLinkConfig,
  EmuLinkEnd,
  EmulatorConfig,
  EmulatorStats,
  LinkStats,
  QueueLimit,
} from './types';

export interface StartEmulatorOptions {
  lab: string;
  /** Directory for the control socket (emulator.sock), config (emulator.json) and log (emulator.log). */
  stateDir: string;
  links: EmuLinkConfig[];
  seed?: number;
  /** Drop the TAPs' carrier while a link is down (default true). */
  carrier?: boolean;
  /** SCHED_FIFO priority of the data-plane thread (default 10; 0 = ordinary scheduling). */
  rtPriority?: number;
  /**
   * How to run the emulator: argv whose last element gets `--config FILE` appended. Default:
   * $MPLAB_EMULATOR (a .js or .ts path), else dist/emulator.js beside this module (bundled), else
   * lab/emulator/main.ts through tsx (source checkout).
   */
  command?: string[];
  /** How long to wait for the TAPs and the control socket (default 10 s). */
  timeoutMs?: number;
  /** Called right after spawn with the pid, before waiting for readiness (for the lab's intent log). */
  onSpawn?: (pid: number) => void;
}

export interface EmulatorHandle {
  pid: number;
  socket: string;
  log: string;
  config: string;
}

/** Starts one emulator process for the given links; resolves once every TAP exists and is up. */
export async function startEmulator(opts: StartEmulatorOptions): Promise<EmulatorHandle> {
  mkdirSync(opts.stateDir, { recursive: true });
  const socket = join(opts.stateDir, 'emulator.sock');
  const configPath = join(opts.stateDir, 'emulator.json');
  const log = join(opts.stateDir, 'emulator.log');
  rmSync(socket, { force: true });
  const config: EmulatorConfig = {
    lab: opts.lab,
    socket,
    seed: opts.seed ?? 1,
    carrier: opts.carrier ?? true,
    rtPriority: opts.rtPriority ?? 10,
    links: opts.links,
  };
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const argv = [...(opts.command ?? emulatorCommand()), '--config', configPath];
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('emulator: empty command');
  const logFd = openSync(log, 'a');
  let exitInfo: string | null = null;
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  child.on('exit', (code, signal) => {
    exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  child.on('error', (e) => {
    exitInfo = `spawn error: ${e.message}`;
  });
  const pid = child.pid;
  if (pid === undefined) {
    await sleep(10);
    throw new Error(`emulator: could not start ${cmd}: ${exitInfo ?? 'no pid'}`);
  }
  opts.onSpawn?.(pid);
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (exitInfo !== null) throw new Error(`emulator exited during start (${exitInfo}):\n${tail(log)}`);
    if (existsSync(socket)) {
      try {
        await request(socket, { cmd: 'ping' }, 1000);
        break;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      throw new Error(`emulator did not become ready within ${opts.timeoutMs ?? 10_000} ms:\n${tail(log)}`);
    }
    await sleep(20);
  }
  child.unref();
  return { pid, socket, log, config: configPath };
}

/** Changes one direction (or both) of a link at runtime; fields given are merged unless `replace`. */
export async function setLink(
  socket: string,
  link: string,
  dir: Direction,
  params: EmuDirParams,
  replace = false,
): Promise<void> {
  await request(socket, { cmd: 'set', link, dir, params, replace });
}

/** Brings a link up or down (down: every frame is dropped, in flight too; carrier off on both TAPs). */
export async function linkUpDown(socket: string, link: string, up: boolean): Promise<void> {
  await request(socket, { cmd: up ? 'up' : 'down', link });
}

/** Counters of every link (or one) by direction. */
export async function stats(socket: string, link?: string): Promise<EmulatorStats> {
  return (await request(socket, link ? { cmd: 'stats', link } : { cmd: 'stats' })) as EmulatorStats;
}

/**
 * Stops an emulator: asks it over its socket, then SIGTERM, then SIGKILL. Accepts a handle, a
 * `{pid, socket}` record from the lab state (best: both), a socket path or a pid. Resolves when the
 * process is gone; idempotent. A pid is only signalled while it is still an emulator process.
 */
export async function stopEmulator(
  target: EmulatorHandle | { pid?: number; socket?: string } | string | number,
  timeoutMs = 5000,
): Promise<void> {
  let pid: number | undefined;
  let socket: string | undefined;
  if (typeof target === 'number') pid = target;
  else if (typeof target === 'string') socket = target;
  else {
    pid = target.pid;
    socket = target.socket;
  }
  let asked = false;
  if (socket && existsSync(socket)) {
    try {
      const r = (await request(socket, { cmd: 'stop' }, Math.min(2000, timeoutMs))) as
        | { pid?: number }
        | undefined;
      pid ??= r?.pid;
      asked = true;
    } catch {
      // not answering: signals
    }
  }
  if (pid !== undefined && isEmulator(pid)) {
    // Asked politely: give it half the time before SIGTERM; otherwise SIGTERM now. SIGKILL at the end.
    const start = Date.now();
    const deadline = start + timeoutMs;
    let termAt = asked ? start + timeoutMs / 2 : start;
    while (isEmulator(pid)) {
      const now = Date.now();
      if (now > deadline) {
        signal(pid, 'SIGKILL');
        for (let i = 0; i < 50 && isEmulator(pid); i++) await sleep(10);
        break;
      }
      if (now >= termAt) {
        signal(pid, 'SIGTERM');
        termAt = Number.POSITIVE_INFINITY;
      }
      await sleep(10);
    }
  }
  if (socket) rmSync(socket, { force: true });
}

/** One request/response over the control socket. */
export function request(socket: string, req: ControlRequest, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const conn = connect(socket);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`emulator: no answer to ${req.cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      conn.end();
      let res: ControlResponse;
      try {
        res = JSON.parse(buf.slice(0, nl)) as ControlResponse;
      } catch (e) {
        reject(new Error(`emulator: bad answer: ${(e as Error).message}`));
        return;
      }
      if (res.ok) resolvePromise(res.result);
      else reject(new Error(`emulator: ${res.error}`));
    });
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The argv that runs the emulator entry (see StartEmulatorOptions.command). */
export function emulatorCommand(): string[] {
  const env = process.env.MPLAB_EMULATOR;
  if (env) return commandFor(resolve(env));
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'emulator.js');
  if (existsSync(bundled)) return [process.execPath, bundled];
  const source = join(here, 'main.ts');
  if (existsSync(source)) return commandFor(source);
  throw new Error(`emulator: cannot find emulator.js beside ${here}; set MPLAB_EMULATOR`);
}

function commandFor(path: string): string[] {
  if (!path.endsWith('.ts')) return [process.execPath, path];
  const req = createRequire(import.meta.url);
  const tsxDir = dirname(req.resolve('tsx/package.json'));
  return [process.execPath, '--import', pathToFileURL(join(tsxDir, 'dist', 'loader.mjs')).href, path];
}

/** True while `pid` is alive and is an emulator (guards against pid reuse after a crash). */
function isEmulator(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return /emulator/.test(cmdline);
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
