/**
 * A traffic run between nodes of different stacks: our stack (the agent) on one end, the kernel's
 * MPTCP or plain TCP on the other, in either direction and either way round (--reverse). Each end
 * runs its own node's stack (stacks.ts), both hash with SHA-256, the same integrity check as every
 * run; the timeline takes per-subflow figures from both ends (the agent's stack, the kernel end's
 * own getsockopt), matched by 4-tuple. A dead end (agent or kernel program) fails the run at once, naming it.
 */
import { UsageError } from '../errors';
import type { Lab } from '../lab';
import { labApplier, ScenarioScheduler } from '../scenario/scheduler';
import { AgentEnd, type EndOutcome, type EndPlan, KernelEnd, type TrafficEnd } from './ends';
import type { RunStack } from './result';
import { DEFAULT_INTERVAL_MS, DEFAULT_RUN_MS, type RunSpec, resolveEndpoints, runEnds } from './spec';
import type { EndStacks } from './stacks';
import { TimelineBuilder } from './timeline';
import type { LabRunOptions, LabRunOutput } from './ts';
import { integrityOf, liveRunResult } from './util';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function makeEnd(lab: Lab, plan: EndPlan, stack: RunStack, heartbeatMs?: number): TrafficEnd {
  if (stack === 'ts') return new AgentEnd(lab, plan, heartbeatMs);
  return new KernelEnd(lab, plan, stack);
}

export async function runMixed(
  lab: Lab,
  spec: RunSpec,
  stacks: EndStacks,
  options: LabRunOptions = {},
): Promise<LabRunOutput> {
  const { from, to, host, source } = resolveEndpoints(lab.model, spec);
  const intervalMs = spec.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeMs = spec.bytes === undefined ? (spec.timeMs ?? DEFAULT_RUN_MS) : undefined;
  const port = spec.port ?? 20000 + Math.floor(Math.random() * 20000);
  const jobId = `run-${process.pid}-${Date.now().toString(36)}`;
  const startedAt = new Date().toISOString();
  if (stacks.from === stacks.to) throw new UsageError('run: not a mixed-stack run');

  const common = { host, port, intervalMs, jobId };
  const what = spec.bytes !== undefined ? { bytes: spec.bytes } : { timeMs: timeMs ?? DEFAULT_RUN_MS };
  // <from> opens the connection; it sends unless reversed
  const connector = makeEnd(
    lab,
    {
      ...common,
      ...what,
      node: from,
      role: spec.reverse ? 'recv' : 'send',
      open: 'connect',
      ...(source !== undefined ? { source } : {}),
    },
    stacks.from,
    options.heartbeatMs,
  );
  const listener = makeEnd(
    lab,
    { ...common, ...what, node: to, role: spec.reverse ? 'send' : 'recv', open: 'listen' },
    stacks.to,
    options.heartbeatMs,
  );
  const sender = spec.reverse ? listener : connector;
  const receiver = spec.reverse ? connector : listener;

  const { apply, settle, close: closeApplier } = labApplier(lab, spec.events ?? []);
  const scheduler = new ScenarioScheduler(spec.events ?? [], apply, {
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const tl = new TimelineBuilder();
  const reports: LabRunOutput['reports'] = [];
  let dead: string | undefined;
  let deadEnd: TrafficEnd | undefined;
  for (const e of [sender, receiver])
    void e.died.then((why) => {
      if (dead !== undefined) return;
      dead = why;
      deadEnd = e;
    });
  // a dead (or hung) end is not asked to stop: only the survivor is
  const stopAll = () =>
    Promise.allSettled([sender, receiver].filter((e) => e !== deadEnd).map((e) => e.stop(true)));
  let sendOut: EndOutcome | undefined;
  let recvOut: EndOutcome | undefined;
  void sender.done.then((o) => (sendOut = o));
  let t0 = 0;
  let recvDoneAt: number | undefined;
  void receiver.done.then((o) => {
    recvOut = o;
    recvDoneAt = (performance.now() - t0) / 1000;
  });
  let ticker: NodeJS.Timeout | undefined;
  try {
    await listener.start();
    await connector.start();
    // the run's clock starts when the connector is about to connect: its start may have taken a
    // process start in a VM guest over SSH, which is no part of the transfer
    t0 = performance.now();
    scheduler.start(t0);
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const [s, r] = await Promise.all([sender.subflows(), receiver.subflows()]);
        const p = tl.sample((performance.now() - t0) / 1000, receiver.bytes(), r, s);
        options.onPoint?.(p, tl.live());
      } finally {
        busy = false;
      }
    };
    ticker = setInterval(() => void tick(), intervalMs);
    const reportAt = timeMs !== undefined ? t0 + timeMs * (options.reportAt ?? 0.9) : undefined;
    const takeReports = async () => {
      if (reports.length > 0) return;
      for (const e of [receiver, sender]) {
        const rep = await e.report();
        if (rep) reports.push({ node: e.node, report: rep });
      }
    };
    const reportTimer =
      reportAt !== undefined
        ? setTimeout(() => void takeReports(), Math.max(0, reportAt - performance.now()))
        : undefined;

    let failure: string | undefined;
    let lastBytes = 0;
    let lastProgress = performance.now();
    const limit = performance.now() + (timeMs ?? 600_000) + 60_000;
    for (;;) {
      if (sendOut && recvOut) break;
      if (dead !== undefined) {
        failure = dead;
        break;
      }
      if (options.signal?.aborted) {
        failure = 'interrupted';
        break;
      }
      const b = receiver.bytes();
      if (b > lastBytes) {
        lastBytes = b;
        lastProgress = performance.now();
      }
      if (performance.now() - lastProgress > 30_000) {
        failure = `stalled: no byte arrived for 30 s (${b} bytes so far)`;
        break;
      }
      if (sendOut && !recvOut && performance.now() - lastProgress > 10_000) {
        failure = 'the receiver never saw the end of the stream';
        break;
      }
      if (performance.now() > limit) {
        failure = 'the run did not end within its time limit';
        break;
      }
      await sleep(20);
    }
    if (failure !== undefined) await stopAll();
    if (reportTimer) clearTimeout(reportTimer);
    clearInterval(ticker);
    ticker = undefined;
    await scheduler.stop();
    await settle();
    if (reports.length === 0 && failure === undefined) await takeReports();
    const tEnd = performance.now();
    const last = tl.points[tl.points.length - 1];
    if (!last || last.t < (tEnd - t0) / 1000 - intervalMs / 2000) {
      const [s, r] = await Promise.all([sender.subflows(), receiver.subflows()]);
      options.onPoint?.(tl.sample((tEnd - t0) / 1000, recvOut?.bytes ?? receiver.bytes(), r, s), tl.live());
    }
    const errOf = (o: EndOutcome | undefined) => {
      if (!o) return undefined;
      if (!o.error) return { bytes: o.bytes, sha256: o.sha256 };
      const at = o.error.indexOf(': ');
      const [code, message] = at > 0 ? [o.error.slice(0, at), o.error.slice(at + 2)] : ['EIO', o.error];
      return { bytes: o.bytes, sha256: o.sha256, error: { code, message } };
    };
    const integrity = failure ?? integrityOf(errOf(sendOut), errOf(recvOut));
    const bytes = recvOut?.bytes ?? receiver.bytes();
    const seconds = recvOut?.seconds || (tEnd - t0) / 1000;
    const result = await liveRunResult(
      lab,
      spec,
      spec.stack,
      {
        bytes,
        seconds,
        integrity,
        // the window from the connect to the last write (timed runs: the run's time, the
        // kernel end reports no write times); the drain after it until the end of stream
        window: {
          start: 0,
          endOfStream: recvDoneAt ?? (tEnd - t0) / 1000,
          lastWrite:
            timeMs !== undefined
              ? Math.min(recvDoneAt ?? (tEnd - t0) / 1000, timeMs / 1000)
              : (recvDoneAt ?? (tEnd - t0) / 1000),
          timed: timeMs !== undefined,
        },
      },
      tl,
      scheduler.applied,
      startedAt,
      deadEnd ? [deadEnd.node] : [],
    );
    if (spec.reverse) result.reverse = true;
    result.ends = runEnds(spec, (n) => (n === spec.from ? stacks.from : stacks.to));
    if (integrity === 'ok' && recvOut) result.sha256 = recvOut.sha256;
    const notes = [...stacks.notes, ...scheduler.errors.map((e) => `event failed: ${e}`)];
    if (notes.length > 0) result.notes = notes;
    return { result, reports };
  } finally {
    if (ticker) clearInterval(ticker);
    if (!(sendOut && recvOut)) await stopAll();
    await scheduler.stop();
    closeApplier();
    await Promise.allSettled([sender.close(), receiver.close()]);
  }
}
