/**
 * A traffic run in the deterministic simulator (`--sim`): the lab's topology mapped by map.ts, a
 * bulk sender on <from> connecting to <to>'s first address, a sink on <to>, both hashing with
 * SHA-256; scenario events applied at their virtual times; the timeline sampled every interval.
 * Same RunResult as a run in a lab. Same model, spec and seed: the same result, byte for byte.
 */
import { createHash } from 'node:crypto';
import { subflowFigures } from '../../stack/agent/traffic';
import type { CoreEvent } from '../../stack/core/contract';
import type { MptcpHost } from '../../stack/mptcp/host';
import { formatReport } from '../../stack/report';
import type { Rng } from '../../stack/sim/prng';
import { VERSION } from '../../stack/version';
import type { RunEvent, RunResult, TimelinePoint } from '../run/result';
import {
  DEFAULT_INTERVAL_MS,
  DEFAULT_PORT,
  DEFAULT_RUN_MS,
  type RunSpec,
  resolveEndpoints,
} from '../run/spec';
import { type LiveSubflow, TimelineBuilder } from '../run/timeline';
import { describeEvent } from '../scenario/describe';
import type { LabModel, ScenarioEvent } from '../topology/model';
import { buildSimLab, type SimLab, simParams } from './map';

export interface SimRunOptions {
  seed?: number;
  /** Extra knobs per node (campaign cells). */
  knobs?: Record<string, Record<string, string | number>>;
  /** Called with each timeline point as virtual time passes. */
  onPoint?: (p: TimelinePoint, live: LiveSubflow[]) => void;
  /** Called with each event as it is applied. */
  onEvent?: (e: RunEvent) => void;
  /** Take the sender's and receiver's state reports at this fraction of the run (default 0.9). */
  reportAt?: number;
}

export interface SimRunOutput {
  result: RunResult;
  /** Text state reports (stack/report.ts) of sender and receiver, taken during the transfer. */
  reports: { node: string; text: string }[];
  /** Virtual ms simulated, and wall ms it took. */
  virtualMs: number;
  wallMs: number;
}

const CHUNK = 64 * 1024;

/** Applies one scenario event to the simulated lab. */
export function applySimEvent(lab: SimLab, model: LabModel, e: ScenarioEvent): void {
  if (e.action === 'sysctl') {
    for (const n of e.nodes) lab.sysctls.get(n)?.set(e.key, e.value);
    return;
  }
  const link = lab.links.get(e.link);
  if (!link) return;
  if (e.action === 'link-down' || e.action === 'link-up') {
    const up = e.action === 'link-up';
    if (up) link.bringUp();
    else link.down();
    // As in a lab, where the node's stack sees the interface lose its carrier: the addresses of the
    // hosts' interfaces on this link leave the stack while it is down and come back with it.
    const lm = model.links.find((l) => l.id === e.link);
    for (const end of lm ? [lm.a, lm.b] : []) {
      const host = lab.hosts.get(end.node);
      const node = model.nodes.find((n) => n.name === end.node);
      const idx = node?.interfaces.findIndex((i) => i.name === end.iface) ?? -1;
      const iface = host?.ifaces[idx];
      if (!host || !node || !iface) continue;
      for (const a of node.interfaces[idx]!.addresses) {
        if (up) host.addAddress(a.address, iface);
        else host.removeAddress(a.address);
      }
    }
  } else {
    const mtu = model.links.find((l) => l.id === e.link)?.mtu ?? 1500;
    const p = simParams(e.params, mtu);
    link.set(p, e.dir);
  }
}

export function simulateRun(model: LabModel, spec: RunSpec, options: SimRunOptions = {}): SimRunOutput {
  const wall0 = performance.now();
  const { host: dst, source } = resolveEndpoints(model, spec);
  const seed = options.seed ?? 1;
  const knobs: Record<string, Record<string, string | number>> = { ...(options.knobs ?? {}) };
  if (spec.stack === 'tcp') {
    for (const n of [spec.from, spec.to]) knobs[n] = { ...(knobs[n] ?? {}), 'net.mptcp.mptcp_enabled': 0 };
  }
  const lab = buildSimLab(model, { seed, knobs });
  const { sim } = lab;
  const sender = lab.hosts.get(spec.from)!;
  const sink = lab.hosts.get(spec.to)!;
  const port = spec.port ?? DEFAULT_PORT;
  const intervalMs = spec.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeMs = spec.bytes === undefined ? (spec.timeMs ?? DEFAULT_RUN_MS) : undefined;
  const t0 = 0;

  const rng: Rng = sim.rng.fork('traffic');
  const sendHash = createHash('sha256');
  const recvHash = createHash('sha256');
  let sent = 0;
  let received = 0;
  let clientConn = -1;
  let serverConn = -1;
  let pending: Uint8Array | null = null;
  let stopWriting = false;
  let ended = false;
  let finishedAt = Number.NaN;
  let error: string | undefined;
  const scratch = new Uint8Array(CHUNK);

  const endIfDone = () => {
    if (!ended && pending === null && (stopWriting || (spec.bytes !== undefined && sent >= spec.bytes))) {
      ended = true;
      sender.end(clientConn);
    }
  };
  const pushMore = () => {
    for (;;) {
      if (pending === null) {
        if (stopWriting) break;
        const n = spec.bytes === undefined ? CHUNK : Math.min(CHUNK, spec.bytes - sent);
        if (n <= 0) break;
        const buf = rng.fill(scratch.subarray(0, n));
        sendHash.update(buf);
        sent += n;
        pending = buf;
      }
      const w = sender.core.write(clientConn, pending, sim.now);
      if (w >= pending.length) pending = null;
      else {
        // the core copied what it accepted; keep the rest (copied: the scratch buffer is reused)
        pending = pending.slice(w);
        break;
      }
    }
    endIfDone();
    sender.pump();
  };

  sender.on((e: CoreEvent) => {
    if (e.conn !== clientConn) return;
    if (e.type === 'connected' || e.type === 'writable') pushMore();
    else if (e.type === 'data') sender.consumed(e.conn, e.data.length);
    else if (e.type === 'closed' && e.error && error === undefined)
      error = `sender: ${e.error.code}: ${e.error.message}`;
  });
  sink.on((e: CoreEvent) => {
    if (e.type === 'accepted') {
      if (serverConn === -1 && e.port === port) serverConn = e.conn;
      return;
    }
    if (e.conn !== serverConn) return;
    if (e.type === 'data') {
      recvHash.update(e.data);
      received += e.data.length;
      sink.consumed(e.conn, e.data.length);
    } else if (e.type === 'end') {
      if (Number.isNaN(finishedAt)) {
        finishedAt = sim.now;
        sink.end(e.conn);
      }
    } else if (e.type === 'closed' && e.error && error === undefined && Number.isNaN(finishedAt))
      error = `receiver: ${e.error.code}: ${e.error.message}`;
  });
  sink.listen(port);

  const events: RunEvent[] = [];
  const notes = [...lab.notes];
  for (const e of spec.events ?? []) {
    sim.at(t0 + e.at, () => {
      applySimEvent(lab, model, e);
      const ev: RunEvent = { t: e.at / 1000, at: e.at / 1000, what: describeEvent(e) };
      events.push(ev);
      options.onEvent?.(ev);
    });
  }

  const tl = new TimelineBuilder();
  const statsOf = (h: typeof sender, conn: number) => h.core.connStats().find((c) => c.conn === conn);
  const sample = (now: number) => {
    const p = tl.sample(
      (now - t0) / 1000,
      received,
      subflowFigures(statsOf(sink, serverConn), 'sink'),
      subflowFigures(statsOf(sender, clientConn), 'send'),
    );
    options.onPoint?.(p, tl.live());
  };
  const stopSampling = sim.every(
    intervalMs,
    (now) => {
      if (now > t0 && Number.isNaN(finishedAt)) sample(now);
    },
    t0 + intervalMs,
  );

  const reports: { node: string; text: string }[] = [];
  const reportAtMs = t0 + (timeMs ?? 0) * (options.reportAt ?? 0.9);
  const takeReports = () => {
    if (reports.length > 0) return;
    for (const [node, h] of [
      [spec.to, sink],
      [spec.from, sender],
    ] as const) {
      const core = h.core as Partial<MptcpHost>;
      if (typeof core.report === 'function')
        reports.push({ node, text: formatReport(core.report.call(h.core)) });
    }
  };
  if (timeMs !== undefined) {
    sim.at(reportAtMs, takeReports);
    sim.at(t0 + timeMs, () => {
      stopWriting = true;
      if (clientConn >= 0) {
        endIfDone();
        sender.pump();
      }
    });
  }
  sim.at(t0, () => {
    clientConn = sender.connect(
      source !== undefined ? { host: dst, port, localAddress: source } : { host: dst, port },
    );
  });

  // Give up well after the transfer should have ended: lost connections must not spin forever.
  const limit = t0 + (timeMs ?? 0) + 300_000;
  sim.runWhile(() => Number.isNaN(finishedAt) && error === undefined, limit);
  if (reports.length === 0) takeReports();
  const endT = Number.isNaN(finishedAt) ? sim.now : finishedAt;
  if (tl.points.length === 0 || (tl.points[tl.points.length - 1]?.t ?? 0) < (endT - t0) / 1000 - 1e-6)
    sample(endT);
  stopSampling();

  const seconds = (endT - t0) / 1000;
  let integrity = 'ok';
  const sentSha = sendHash.digest('hex');
  const recvSha = recvHash.digest('hex');
  if (error !== undefined) integrity = error;
  else if (Number.isNaN(finishedAt))
    integrity = `transfer did not finish within ${Math.round(limit / 1000)} s of virtual time (${received} of ${sent} bytes arrived)`;
  else if (received !== sent) integrity = `short transfer: ${received} of ${sent} bytes arrived`;
  else if (sentSha !== recvSha)
    integrity = `SHA-256 mismatch: sent ${sentSha.slice(0, 16)}…, received ${recvSha.slice(0, 16)}…`;

  const result: RunResult = {
    lab: model.name,
    from: spec.from,
    to: spec.to,
    stack: spec.stack,
    sim: true,
    seed,
    bytes: received,
    seconds: Math.round(seconds * 1e6) / 1e6,
    goodputMbps: seconds > 0 ? Math.round(((received * 8) / seconds / 1e6) * 1000) / 1000 : 0,
    integrity,
    subflows: tl.subflows(),
    timeline: tl.points,
    events,
    knobs: {
      [spec.from]: lab.sysctls.get(spec.from)?.snapshot() ?? {},
      [spec.to]: lab.sysctls.get(spec.to)?.snapshot() ?? {},
    },
    versions: { mplab: VERSION, node: process.version, kernel: 'simulator' },
  };
  if (integrity === 'ok') result.sha256 = sentSha;
  if (integrity === 'ok' && seconds === 0)
    notes.push(
      'the transfer took no virtual time (no link on the path has a rate or a delay): goodput is not defined',
    );
  if (notes.length > 0) result.notes = notes;
  return { result, reports, virtualMs: sim.now, wallMs: performance.now() - wall0 };
}
