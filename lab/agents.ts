/**
 * The node agents: locate dist/agent.js, start one per `stack: ts` node (detached, so it outlives
 * the CLI), wait until each control socket answers `ping`, apply the node's knobs, and talk to them
 * later (sysctl, report) through the typed client of stack/agent/client.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentClient } from '../stack/agent/client';
import type { SysctlValue } from '../stack/agent/protocol';
import type { Backend } from './backends/types';
import { RuntimeFailure } from './errors';

/**
 * Where the agent bundle is: $MPLAB_AGENT, else agent.js beside this module once bundled (dist/cli.js
 * and dist/lib.js sit beside dist/agent.js), else the repository's dist/agent.js (running from source).
 */
export function agentScript(): string {
  const env = process.env.MPLAB_AGENT;
  if (env) {
    if (!existsSync(resolve(env))) throw new RuntimeFailure(`MPLAB_AGENT=${env}: no such file`);
    return resolve(env);
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'agent.js'), join(here, '..', 'dist', 'agent.js')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new RuntimeFailure(
    `cannot find the node agent (looked for ${candidates.join(', ')}); run 'npm run build' or set MPLAB_AGENT`,
  );
}

export interface AgentSpec {
  node: string;
  handle: string;
  socket: string;
  log: string;
  /** The node's phy (default udp); tun starts the agent with --phy tun. */
  phy?: 'udp' | 'tun';
}

/** Starts an agent inside its node; returns the pid. */
export function spawnAgent(backend: Backend, spec: AgentSpec, script: string): number | Promise<number> {
  const argv = [process.execPath, script, '--socket', spec.socket, '--log', spec.log];
  if (spec.phy === 'tun') argv.push('--phy', 'tun');
  if (backend.spawnDetachedAsync) return backend.spawnDetachedAsync(spec.handle, argv, spec.log);
  return backend.spawnDetached(spec.handle, argv, spec.log);
}

/** True while `pid` runs and its command line names `marker` (guards against pid reuse). */
export function processMatches(pid: number, marker: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** True while `pid` exists and is not a zombie. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until the agent's control socket answers `ping`; fails early (with the log's tail) when the
 * process dies, or after `timeoutMs`. Returns a connected client.
 */
export async function waitAgent(spec: AgentSpec, pid: number, timeoutMs = 15_000): Promise<AgentClient> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (existsSync(spec.socket)) {
      try {
        const client = await AgentClient.connect(spec.socket, { connectTimeoutMs: 1000 });
        try {
          await client.call('ping', undefined, { timeoutMs: 2000 });
          return client;
        } catch (e) {
          await client.close();
          throw e;
        }
      } catch (e) {
        lastError = (e as Error).message;
      }
    }
    // Our own child, just spawned: no pid reuse to guard against here, and between fork and exec
    // its command line is still ours, so only ask whether it still runs.
    if (!running(pid))
      throw new RuntimeFailure(`agent of node '${spec.node}' exited during start:\n${tail(spec.log)}`);
    if (Date.now() > deadline)
      throw new RuntimeFailure(
        `agent of node '${spec.node}' did not answer on ${spec.socket} within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}:\n${tail(spec.log)}`,
      );
    await sleep(5);
  }
}

/** Canonical text of an IP address (IPv6 compressed as RFC 5952 has it), for comparisons. */
export function canonicalIp(a: string): string {
  if (!a.includes(':')) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a.toLowerCase();
  }
}

/**
 * Waits until the agent uses every address in `expected` (it learns them from the node's
 * interfaces, so an agent started before they were configured picks them up on its next look).
 */
export async function waitAddresses(
  client: AgentClient,
  node: string,
  expected: string[],
  timeoutMs = 15_000,
): Promise<void> {
  const want = expected.map(canonicalIp);
  const deadline = Date.now() + timeoutMs;
  let have: string[] = [];
  for (;;) {
    const v = await client.call('version', undefined, { timeoutMs: 2000 });
    have = v.addresses.map(canonicalIp);
    if (want.every((a) => have.includes(a))) return;
    if (Date.now() > deadline)
      throw new RuntimeFailure(
        `agent of node '${node}' does not see ${want.filter((a) => !have.includes(a)).join(', ')} after ${timeoutMs} ms (it has ${have.join(', ') || 'none'})`,
      );
    await sleep(10);
  }
}

/** Sets knobs in order; a rejected value fails with the node and knob named. */
export async function applyKnobs(
  client: AgentClient,
  node: string,
  knobs: Record<string, SysctlValue>,
): Promise<void> {
  for (const [name, value] of Object.entries(knobs)) {
    try {
      await client.call('sysctl.set', { name, value });
    } catch (e) {
      throw new RuntimeFailure(`node '${node}': ${name}=${value}: ${(e as Error).message}`);
    }
  }
}

/** Connects to a running agent (status, sysctl, report). */
export async function connectAgent(socket: string, timeoutMs = 2000): Promise<AgentClient> {
  return AgentClient.connect(socket, { connectTimeoutMs: timeoutMs, callTimeoutMs: 10_000 });
}

/** Runs `fn` with a client to the agent, always closing it. */
export async function withAgent<T>(socket: string, fn: (c: AgentClient) => Promise<T>): Promise<T> {
  const c = await connectAgent(socket);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** How long an agent may leave a heartbeat ping unanswered during a run before it counts as dead. */
export const HEARTBEAT_DEADLINE_MS = 1500;

/**
 * The heartbeat deadline this process uses: MPLAB_AGENT_DEADLINE_MS when set, else
 * HEARTBEAT_DEADLINE_MS. A one-vCPU guest under TCG (the live image's demo) runs the CLI, two
 * agents and the routers' shaping on one emulated core, where 1.5 s without a reply is load, not a
 * hung agent; the image's /init raises it. A value that is not a positive integer is refused, not
 * ignored.
 */
export function heartbeatDeadlineMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MPLAB_AGENT_DEADLINE_MS;
  if (raw === undefined || raw === '') return HEARTBEAT_DEADLINE_MS;
  if (!/^[1-9][0-9]*$/.test(raw.trim()))
    throw new Error(`MPLAB_AGENT_DEADLINE_MS must be a positive number of milliseconds, not '${raw}'`);
  return Number(raw.trim());
}

export interface AgentWatchOptions {
  /** The agent's pid as the lab recorded it, and a marker its command line holds (pid reuse). */
  pid?: number;
  marker?: string;
  /** Unanswered heartbeat this long = dead (default heartbeatDeadlineMs()). */
  deadlineMs?: number;
}

/**
 * Watches an agent while a run uses it and calls `onDead(reason)` once, as soon as one of three
 * things shows it is gone: its control connection closes (a crash or kill -9 closes the unix
 * socket at once), its process no longer runs, or a heartbeat ping stays unanswered past the
 * deadline (a hung or stopped agent). Returns the function that stops watching (call it before
 * closing the client yourself).
 */
export function watchAgent(
  client: AgentClient,
  node: string,
  onDead: (reason: string) => void,
  options: AgentWatchOptions = {},
): () => void {
  const deadline = options.deadlineMs ?? heartbeatDeadlineMs();
  let stopped = false;
  const dead = (why: string) => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    onDead(`the agent of node '${node}' ${why}`);
  };
  void client.closed().then(() => dead('died (its control connection closed)'));
  let pingSince = -1;
  const ping = () => {
    pingSince = performance.now();
    client.call('ping', undefined, { timeoutMs: deadline * 4 }).then(
      () => {
        pingSince = -1;
      },
      () => {
        // a closed connection is reported by closed(); a timeout by the check below
      },
    );
  };
  const timer = setInterval(() => {
    if (stopped) return;
    const { pid, marker } = options;
    if (pid !== undefined && !(marker ? processMatches(pid, marker) : running(pid)))
      return dead(`died (pid ${pid} is gone)`);
    if (pingSince < 0) ping();
    else if (performance.now() - pingSince > deadline)
      dead(`stopped answering (no reply to a heartbeat for ${Math.round(performance.now() - pingSince)} ms)`);
  }, 200);
  timer.unref?.();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
