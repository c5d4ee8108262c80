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
import { formatCoreReport, type CoreReport } from '../../stack/report';
import type { Rng } from '../../stack/sim/prng';
import { VERSION } from '../../stack/version';
import type { RunEvent, RunResult, TimelinePoint } from '../run/result';
import {
  DEFAULT_INTERVAL_MS,
  DEFAULT_PORT,
  DEFAULT_RUN_MS,
  type RunSpec,
  resolveEndpoints,
  runEnds,
} from '../run/spec';
import { type LiveSubflow, TimelineBuilder } from '../run/timeline';
import { counterTotals, measureWindow } from '../run/window';
import { isMultiRun } from '../run/parallel';
import { UsageError } from '../errors';
import { describeEvent } from '../scenario/describe';
import type { DirParams, LabModel, ScenarioEvent } from '../topology/model';
import type { SegmentWriter } from '../../stack/sim/sim';
import { type CaptureAt, captureSim } from './capture';
import { buildSimLab, type SimLab, simParams } from './map';
import { refuseUnsimulable } from './refuse';

/**
 * The note a simulated run carries when no random draw of the link model can change its outcome
 * (campaign summaries read it: repetitions of such a cell agree by construction, so they print
 * "deterministic" instead of a confidence interval of zero).
 */
export const DETERMINISTIC_NOTE =
  'deterministic: no link draws random numbers (no loss, jitter, burst loss, reordering or duplication); ' +
  "another seed changes only the stacks' own choices (ports, keys, sequence numbers)";

function drawsRandom(d: DirParams): boolean {
  return (
    (d.lossPct ?? 0) > 0 ||
    (d.jitterMs ?? 0) > 0 ||
    d.burstLoss !== undefined ||
    (d.reorderPct ?? 0) > 0 ||
    (d.duplicatePct ?? 0) > 0
  );
}

/** Whether any link of the model, or any link change of the run, makes random draws. */
export function modelIsRandom(model: LabModel, events: readonly ScenarioEvent[]): boolean {
  if (model.links.some((l) => drawsRandom(l.ab) || drawsRandom(l.ba))) return true;
  return events.some((e) => e.action === 'link-set' && drawsRandom(e.params));
}

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
  /** Write what this node's interfaces carry (lab/sim/capture.ts). */
  capture?: { at: CaptureAt; writer: SegmentWriter };
}

export interface SimRunOutput {
  result: RunResult;
  /** State reports (stack/report.ts) of sender and receiver, taken during the transfer: text and object. */
  reports: { node: string; text: string; report: CoreReport }[];
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

function counterField(points: TimelinePoint[]): Pick<RunResult, 'counters'> {
  const counters = counterTotals(points);
  return Object.keys(counters).length > 0 ? { counters } : {};
}

/** Runs the whole simulation at once (campaigns, scripts, tests). */
export function simulateRun(model: LabModel, spec: RunSpec, options: SimRunOptions = {}): SimRunOutput {
  const steps = simulateSteps(model, spec, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same run, handing the event loop back every `sliceMs` of virtual time (default: one
 * timeline interval), so a live view (`mplab run --sim`) redraws while the simulation runs, as it
 * does during a lab run. The result is the same as simulateRun's, byte for byte.
 */
export async function simulateRunLive(
  model: LabModel,
  spec: RunSpec,
  options: SimRunOptions & { sliceMs?: number } = {},
): Promise<SimRunOutput> {
  const steps = simulateSteps(model, spec, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The run as a generator: it yields after each slice of virtual time and returns the output. */
function* simulateSteps(
  model: LabModel,
  spec: RunSpec,
  options: SimRunOptions & { sliceMs?: number },
): Generator<void, SimRunOutput, void> {
  const wall0 = performance.now();
  const { host: dst, source } = resolveEndpoints(model, spec);
  refuseUnsimulable(model, spec.stack);
  // One connection per simulation: N simulations would not share their links (lab/run/parallel.ts).
  if (isMultiRun(spec))
    throw new UsageError(
      'run --sim: --parallel and --bidir run in a lab only (the simulator runs one connection)',
    );
  const seed = options.seed ?? 1;
  const knobs: Record<string, Record<string, string | number>> = { ...(options.knobs ?? {}) };
  const lab = buildSimLab(model, { seed, knobs });
  const { sim } = lab;
  if (options.capture) captureSim(lab, model, options.capture.at, options.capture.writer);
  // <from> opens the connection; it sends unless the run is reversed (then <to> sends back to it)
  const sendNode = spec.reverse ? spec.to : spec.from;
  const recvNode = spec.reverse ? spec.from : spec.to;
  const sender = lab.hosts.get(sendNode)!;
  const sink = lab.hosts.get(recvNode)!;
  const listener = spec.reverse ? sender : sink;
  const connector = spec.reverse ? sink : sender;
  const port = spec.port ?? DEFAULT_PORT;
  const intervalMs = spec.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeMs = spec.bytes === undefined ? (spec.timeMs ?? DEFAULT_RUN_MS) : undefined;
  const t0 = 0;

  const rng: Rng = sim.rng.fork('traffic');
  const sendHash = createHash('sha256');
  const recvHash = createHash('sha256');
  let sent = 0;
  let received = 0;
  // the sender's and the receiver's connection ids (named for the usual direction: with --reverse
  // the receiver is the client)
  let clientConn = -1;
  let serverConn = -1;
  let pending: Uint8Array | null = null;
  let stopWriting = false;
  let ended = false;
  let finishedAt = Number.NaN;
  let connectedAt = Number.NaN;
  let lastWriteAt = Number.NaN;
  let error: string | undefined;
  const scratch = new Uint8Array(CHUNK);

  const endIfDone = () => {
    if (!ended && pending === null && (stopWriting || (spec.bytes !== undefined && sent >= spec.bytes))) {
      ended = true;
      if (Number.isNaN(lastWriteAt)) lastWriteAt = sim.now;
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
        // the core copied what it accepted; the rest stays a view of the scratch buffer, which
        // is refilled only once nothing of it is pending (a copy here moved each chunk ~20 times)
        pending = pending.subarray(w);
        break;
      }
    }
    endIfDone();
    sender.pump();
  };

  sender.on((e: CoreEvent) => {
    if (spec.reverse && e.type === 'accepted') {
      if (clientConn === -1 && e.port === port) {
        clientConn = e.conn;
        pushMore();
      }
      return;
    }
    if (e.conn !== clientConn) return;
    if (e.type === 'connected' && Number.isNaN(connectedAt)) connectedAt = sim.now;
    if (e.type === 'connected' || e.type === 'writable') pushMore();
    else if (e.type === 'data') sender.consumed(e.conn, e.data.length);
    else if (e.type === 'closed' && e.error && error === undefined)
      error = `sender: ${e.error.code}: ${e.error.message}`;
  });
  sink.on((e: CoreEvent) => {
    if (e.type === 'accepted') {
      if (!spec.reverse && serverConn === -1 && e.port === port) serverConn = e.conn;
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
  listener.listen(port);

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
    const sinkStats = statsOf(sink, serverConn);
    const p = tl.sample(
      (now - t0) / 1000,
      received,
      subflowFigures(sinkStats, 'sink'),
      subflowFigures(statsOf(sender, clientConn), 'send'),
      sinkStats?.oooBytes !== undefined ? { oooBytes: sinkStats.oooBytes } : {},
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

  const reports: SimRunOutput['reports'] = [];
  const reportAtMs = t0 + (timeMs ?? 0) * (options.reportAt ?? 0.9);
  const takeReports = () => {
    if (reports.length > 0) return;
    for (const [node, h] of [
      [recvNode, sink],
      [sendNode, sender],
    ] as const) {
      const core = h.core as Partial<MptcpHost>;
      if (typeof core.report === 'function') {
        const report = core.report.call(h.core);
        reports.push({ node, text: formatCoreReport(report), report });
      }
    }
  };
  if (timeMs !== undefined) {
    sim.at(reportAtMs, takeReports);
    sim.at(t0 + timeMs, () => {
      stopWriting = true;
      lastWriteAt = sim.now;
      if (clientConn >= 0) {
        endIfDone();
        sender.pump();
      }
    });
  }
  sim.at(t0, () => {
    const id = connector.connect(
      source !== undefined ? { host: dst, port, localAddress: source } : { host: dst, port },
    );
    if (spec.reverse) serverConn = id;
    else clientConn = id;
  });

  // Give up well after the transfer should have ended: lost connections must not spin forever.
  const limit = t0 + (timeMs ?? 0) + 300_000;
  const slice = options.sliceMs ?? intervalMs;
  const running = () => Number.isNaN(finishedAt) && error === undefined;
  while (!sim.runWhile(running, Math.min(limit, sim.now + slice)) && sim.now < limit) yield;
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
    ...(spec.reverse ? { reverse: true } : {}),
    ends: runEnds(spec, () => spec.stack),
    sim: true,
    seed,
    bytes: received,
    seconds: Math.round(seconds * 1e6) / 1e6,
    // the sending window and its goodput, the drain apart (lab/run/window.ts), as in a lab run
    ...measureWindow(tl.points, {
      start: (Number.isNaN(connectedAt) ? t0 : connectedAt - t0) / 1000,
      lastWrite: ((Number.isNaN(lastWriteAt) ? endT : lastWriteAt) - t0) / 1000,
      endOfStream: (endT - t0) / 1000,
      timed: timeMs !== undefined,
      omit: (spec.omitMs ?? 0) / 1000,
    }),
    ...counterField(tl.points),
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
  if (!modelIsRandom(model, spec.events ?? [])) notes.push(DETERMINISTIC_NOTE);
  if (notes.length > 0) result.notes = notes;
  return { result, reports, virtualMs: sim.now, wallMs: performance.now() - wall0 };
}
