/**
 * One bulk transfer from host A to host B, by our stack (two node agents) or by the kernel's MPTCP
 * (python3, IPPROTO_MPTCP = 262), with the receiver's application bytes sampled over time on
 * CLOCK_MONOTONIC, timed events (a path down, a path up) applied during it, and the receiving
 * interfaces' byte counters sampled alongside (bench/lib/rx_sampler.py).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { AgentClient } from '../../stack/agent/client';
import type { TrafficResult } from '../../stack/agent/protocol';
import { alignClock, type Sample } from './series';
import { collect, ip, now, type Procs, sleep } from './topo';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PY = (name: string) => join(HERE, name);

export interface TimedEvent {
  /** Seconds after the sender starts. */
  at: number;
  name: string;
  run: () => Promise<void>;
}

export interface TransferRun {
  /** When the sender was started (CLOCK_MONOTONIC s). */
  t0: number;
  /** The receiving application's cumulative bytes. */
  samples: Sample[];
  /** When each event had been applied (CLOCK_MONOTONIC s). */
  events: Record<string, number>;
  bytes: number;
}

export interface TransferOptions {
  seconds: number;
  port: number;
  /** Receiver-side sampling interval (ms). */
  intervalMs: number;
  events?: TimedEvent[];
}

async function runEvents(t0: number, events: TimedEvent[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const e of [...events].sort((x, y) => x.at - y.at)) {
    await sleep((t0 + e.at - now()) * 1000);
    await e.run();
    out[e.name] = now();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Our stack: two agents

export interface Agent {
  proc: ChildProcess;
  client: AgentClient;
  name: string;
  /** Its log file. */
  log: string;
}

/** Bundles the agent entry (stack/agent/main.ts) into `dir`/agent.js. */
export async function bundleAgent(dir: string): Promise<string> {
  const out = join(dir, 'agent.js');
  await build({
    entryPoints: [fileURLToPath(new URL('../../stack/agent/main.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: out,
    define: { __MPLAB_VERSION__: '"bench"' },
    logLevel: 'warning',
  });
  return out;
}

/** Starts an agent in `ns` (extra: agent flags such as --addresses, --udp-port). */
export async function startAgent(
  procs: Procs,
  js: string,
  dir: string,
  ns: string,
  name: string,
  extra: string[] = [],
): Promise<Agent> {
  const sock = join(dir, `${name}.sock`);
  const proc = procs.spawnIn(ns, process.execPath, [
    js,
    '--socket',
    sock,
    '--log',
    join(dir, `${name}.log`),
    ...extra,
  ]);
  const c = collect(proc);
  await c.waitFor('ready', 15_000).catch((e: Error) => {
    throw new Error(`agent ${name}: ${e.message}`);
  });
  const client = await AgentClient.connect(sock);
  return { proc, client, name, log: join(dir, `${name}.log`) };
}

export async function stopAgent(a: Agent): Promise<void> {
  await a.client.call('shutdown', undefined, { timeoutMs: 3000 }).catch(() => {});
  await a.client.close().catch(() => {});
  if (a.proc.exitCode === null && a.proc.signalCode === null) {
    const t = setTimeout(() => a.proc.kill('SIGKILL'), 5000);
    await new Promise((r) => a.proc.once('exit', r));
    clearTimeout(t);
  }
}

/** The last lines of an agent's log, for error messages. */
export function logTail(a: Agent, lines = 10): string {
  return existsSync(a.log)
    ? readFileSync(a.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    : '(no log)';
}

/** A sends to B's address `host` for `seconds` over our stack; B's sink reports every intervalMs. */
export async function oursTransfer(
  a: Agent,
  b: Agent,
  host: string,
  opts: TransferOptions,
): Promise<TransferRun> {
  const stamped: { t: number; arrived: number; bytes: number }[] = [];
  let sinkId = '';
  let doneAt = 0;
  const offs = [
    b.client.onNotification('traffic.progress', (p) => {
      if (p.id === sinkId) stamped.push({ t: p.t, arrived: now(), bytes: p.bytes });
    }),
    b.client.onNotification('traffic.done', (d) => {
      if (d.id === sinkId) doneAt = now();
    }),
  ];
  try {
    sinkId = (
      await b.client.call('traffic.sink', { port: opts.port, once: true, intervalMs: opts.intervalMs })
    ).id;
    const t0 = now();
    const sent = a.client.call(
      'traffic.send',
      { host, port: opts.port, durationMs: opts.seconds * 1000, intervalMs: 0, wait: true },
      { timeoutMs: (opts.seconds + 120) * 1000 },
    );
    // an early failure of the sender must not wait for the events
    let sendError: unknown;
    sent.catch((e: unknown) => {
      sendError = e;
    });
    const events = await runEvents(t0, opts.events ?? []);
    if (sendError) throw sendError;
    const st = (await sent).status;
    if (st?.state !== 'done') throw new Error(`our sender ended ${st?.state}: ${JSON.stringify(st?.result)}`);
    let result: TrafficResult | undefined;
    for (let i = 0; i < 100 && !result; i++) {
      result = (await b.client.call('traffic.status', { id: sinkId })).jobs[0]?.result;
      if (!result) await sleep(100);
    }
    if (!result) throw new Error('our sink never finished');
    if (result.error) throw new Error(`our sink: ${result.error.code} ${result.error.message}`);
    if (result.sha256 !== st.result?.sha256)
      throw new Error(`integrity: ${result.bytes} bytes received, sha256 differs from the sender's`);
    const samples = alignClock(stamped);
    samples.unshift({ t: t0, bytes: 0 });
    // the last bytes arrive after the last progress tick: close the series when the sink was done
    const last = samples.at(-1)!;
    if (last.bytes < result.bytes)
      samples.push({ t: Math.max(last.t, doneAt || now()), bytes: result.bytes });
    return { t0, samples, events, bytes: result.bytes };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${msg}\n--- ${a.name} log:\n${logTail(a)}\n--- ${b.name} log:\n${logTail(b)}`);
  } finally {
    for (const off of offs) off();
  }
}

// ---------------------------------------------------------------------------------------------
// The kernel's MPTCP

/**
 * Configures the kernel's in-kernel path manager for A → B over every path, the usual way for a
 * multi-homed client: A gets a `subflow` endpoint on each extra address, id i + 1 for path i (with
 * A's source routing, the subflow from path i's address rides path i); both ends allow that many
 * subflows.
 */
export function kernelMptcp(nsA: string, nsB: string, aAddrs: string[], aIfs: string[]): void {
  const n = String(aAddrs.length);
  for (const ns of [nsA, nsB]) {
    ip(['netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=1']);
    ip(['-n', ns, 'mptcp', 'limits', 'set', 'subflows', n, 'add_addr_accepted', n]);
  }
  aAddrs.forEach((addr, i) => {
    // explicit ids (path i has id i + 1), so a watcher can delete and re-add one (bench/lib/pmwatch.ts)
    if (i > 0)
      ip(['-n', nsA, 'mptcp', 'endpoint', 'add', addr, 'dev', aIfs[i]!, 'id', String(i + 1), 'subflow']);
  });
}

export async function kernelTransfer(
  procs: Procs,
  nsA: string,
  nsB: string,
  host: string,
  opts: TransferOptions,
): Promise<TransferRun> {
  const sink = procs.spawnIn(nsB, 'python3', [
    PY('mptcp_sink.py'),
    host,
    String(opts.port),
    String(opts.intervalMs),
  ]);
  const s = collect(sink);
  await s.waitFor('ready', 10_000);
  const t0 = now();
  const sender = procs.spawnIn(nsA, 'python3', [
    PY('mptcp_send.py'),
    host,
    String(opts.port),
    String(opts.seconds),
  ]);
  const c = collect(sender);
  const events = await runEvents(t0, opts.events ?? []);
  const deadline = setTimeout(
    () => {
      sender.kill('SIGKILL');
      sink.kill('SIGKILL');
    },
    (opts.seconds + 60) * 1000,
  );
  try {
    await c.exited;
    await s.exited;
  } finally {
    clearTimeout(deadline);
  }
  const last = (t: string) => t.trim().split('\n').at(-1) ?? '';
  let r: { bytes: number; samples: [number, number][]; error: string | null };
  try {
    r = JSON.parse(last(s.out()));
  } catch {
    throw new Error(
      `kernel sink gave no result; stderr: ${s.err().slice(-500)}; sender: ${c.err().slice(-500)}`,
    );
  }
  const snd = JSON.parse(last(c.out()) || '{}') as { error?: string | null };
  if (r.error || snd.error) throw new Error(`kernel transfer failed: ${r.error ?? snd.error}`);
  return { t0, samples: r.samples.map(([t, bytes]) => ({ t, bytes })), events, bytes: r.bytes };
}

// ---------------------------------------------------------------------------------------------
// Interface counters

export interface RxSampler {
  /** Ends sampling; one series per interface (cumulative received bytes). */
  stop(): Promise<Sample[][]>;
}

/** Samples `ifaces`' rx_bytes in `ns` every intervalMs until stopped. */
export async function startRxSampler(
  procs: Procs,
  ns: string,
  ifaces: string[],
  intervalMs: number,
): Promise<RxSampler> {
  const p = procs.spawnIn(ns, 'python3', [PY('rx_sampler.py'), String(intervalMs), ...ifaces], 'pipe');
  const c = collect(p);
  await c.waitFor('ready', 10_000);
  return {
    async stop() {
      p.stdin?.end();
      await c.exited;
      const line = c.out().trim().split('\n').at(-1) ?? '';
      const j = JSON.parse(line) as { samples: number[][] };
      return ifaces.map((_, i) =>
        j.samples.filter((s) => (s[i + 1] ?? -1) >= 0).map((s) => ({ t: s[0]!, bytes: s[i + 1]! })),
      );
    },
  };
}
