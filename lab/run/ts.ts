/**
 * A traffic run through our stack: a sink on <to>'s agent, a sender on <from>'s agent connecting to
 * <to>'s first address, both hashing with SHA-256; the agents' `traffic.progress` notifications
 * (per-subflow bytes, cwnd, RTT) become the timeline while the scenario scheduler applies events.
 */
import type { AgentClient } from '../../stack/agent/client';
import type {
  AgentReport,
  ParamsOf,
  TrafficDone,
  TrafficProgress,
  TrafficResult,
} from '../../stack/agent/protocol';
import { RuntimeFailure, UsageError } from '../errors';
import type { Lab } from '../lab';
import { labApplier, ScenarioScheduler } from '../scenario/scheduler';
import type { RunEvent, RunResult, TimelinePoint } from './result';
import { DEFAULT_INTERVAL_MS, DEFAULT_RUN_MS, type RunSpec, resolveEndpoints } from './spec';
import { type LiveSubflow, TimelineBuilder } from './timeline';
import { integrityOf, liveRunResult } from './util';

export interface LabRunOptions {
  /** Each timeline point as it is made, with the latest per-subflow figures. */
  onPoint?: (p: TimelinePoint, live: LiveSubflow[]) => void;
  onEvent?: (e: RunEvent) => void;
  /** Aborting stops the traffic (both jobs) and the scenario; the run then ends with what it has. */
  signal?: AbortSignal;
  /** Fetch both nodes' state reports at this fraction of a timed run (default 0.9; bytes runs: at the end). */
  reportAt?: number;
}

export interface LabRunOutput {
  result: RunResult;
  /** State reports of receiver and sender, taken while the connection was up. */
  reports: { node: string; report: AgentReport }[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function waitDone(client: AgentClient, id: string): Promise<TrafficResult> {
  return new Promise((resolve, reject) => {
    const off = client.onNotification('traffic.done', (d: TrafficDone) => {
      if (d.id !== id) return;
      off();
      resolve(d.result);
    });
    client.closed().then(() => reject(new RuntimeFailure('agent control connection closed during the run')));
  });
}

export async function runTs(lab: Lab, spec: RunSpec, options: LabRunOptions = {}): Promise<LabRunOutput> {
  const { from, to, host, source } = resolveEndpoints(lab.model, spec);
  for (const n of [from, to])
    if (n.stack !== 'ts')
      throw new UsageError(
        `run --stack ts: node '${n.name}' runs stack '${n.stack}', not ours (use --stack ${n.stack === 'kernel' ? 'kernel' : 'tcp'})`,
      );
  const intervalMs = spec.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeMs = spec.bytes === undefined ? (spec.timeMs ?? DEFAULT_RUN_MS) : undefined;
  const port = spec.port ?? 20000 + Math.floor(Math.random() * 20000);
  const jobId = `run-${process.pid}-${Date.now().toString(36)}`;
  const startedAt = new Date().toISOString();

  const sink = await lab.agent(spec.to);
  let src: AgentClient;
  try {
    src = await lab.agent(spec.from);
  } catch (e) {
    await sink.close();
    throw e;
  }
  const { apply, settle, close: closeApplier } = labApplier(lab, spec.events ?? []);
  const scheduler = new ScenarioScheduler(spec.events ?? [], apply, {
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const tl = new TimelineBuilder();
  const reports: LabRunOutput['reports'] = [];
  let senderFigs: TrafficProgress['subflows'] = [];
  let sinkFigs: TrafficProgress['subflows'] = [];
  let sinkBytes = 0;
  let t0 = 0;
  let lastProgress = performance.now();
  const sample = () => {
    const p = tl.sample((performance.now() - t0) / 1000, sinkBytes, sinkFigs, senderFigs);
    options.onPoint?.(p, tl.live());
  };
  const offSend = src.onNotification('traffic.progress', (p) => {
    if (p.id === jobId) senderFigs = p.subflows;
  });
  const offSink = sink.onNotification('traffic.progress', (p) => {
    if (p.id !== jobId) return;
    sinkFigs = p.subflows;
    if (p.bytes > sinkBytes) lastProgress = performance.now();
    sinkBytes = p.bytes;
    sample();
  });
  let sinkResult: TrafficResult | undefined;
  let srcResult: TrafficResult | undefined;
  let stopping = false;
  const stopJobs = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([
      src.call('traffic.stop', { id: jobId }, { timeoutMs: 3000 }),
      sink.call('traffic.stop', { id: jobId }, { timeoutMs: 3000 }),
    ]);
  };
  const onAbort = () => void stopJobs();
  options.signal?.addEventListener('abort', onAbort);
  try {
    await sink.call('traffic.sink', { port, id: jobId, intervalMs, once: true });
    const sinkDone = waitDone(sink, jobId);
    const srcDone = waitDone(src, jobId);
    sinkDone.catch(() => {});
    srcDone.catch(() => {});
    t0 = performance.now();
    lastProgress = t0;
    const params: ParamsOf<'traffic.send'> = { host, port, id: jobId, intervalMs };
    if (source !== undefined) params.localAddress = source;
    if (spec.bytes !== undefined) params.bytes = spec.bytes;
    else params.durationMs = timeMs;
    await src.call('traffic.send', params);
    scheduler.start(t0);

    // reports while the connection is up
    const reportAt = timeMs !== undefined ? t0 + timeMs * (options.reportAt ?? 0.9) : undefined;
    const takeReports = async () => {
      if (reports.length > 0) return;
      for (const [node, c] of [
        [spec.to, sink],
        [spec.from, src],
      ] as const) {
        try {
          reports.push({ node, report: await c.call('report', undefined, { timeoutMs: 3000 }) });
        } catch {
          // a report is a nicety; the run goes on
        }
      }
    };
    let reportTimer: NodeJS.Timeout | undefined;
    if (reportAt !== undefined)
      reportTimer = setTimeout(() => void takeReports(), Math.max(0, reportAt - performance.now()));

    // wait for both ends, or a stall (no byte for 30 s), or an abort
    sinkDone.then(
      (r) => {
        sinkResult = r;
      },
      () => {},
    );
    srcDone.then(
      (r) => {
        srcResult = r;
      },
      () => {},
    );
    let failure: string | undefined;
    for (;;) {
      if (sinkResult && srcResult) break;
      if (options.signal?.aborted) {
        failure = 'interrupted';
        await stopJobs();
        await Promise.race([Promise.allSettled([sinkDone, srcDone]), sleep(3000)]);
        break;
      }
      if (performance.now() - lastProgress > 30_000) {
        failure = `stalled: no byte arrived for 30 s (${sinkBytes} bytes so far)`;
        await stopJobs();
        await Promise.race([Promise.allSettled([sinkDone, srcDone]), sleep(3000)]);
        break;
      }
      // once the sender is done, the sink must finish soon
      if (srcResult && !sinkResult && performance.now() - lastProgress > 10_000) {
        failure = 'the receiver never saw the end of the stream';
        await stopJobs();
        break;
      }
      await sleep(20);
    }
    if (reportTimer) clearTimeout(reportTimer);
    await scheduler.stop();
    await settle();
    if (reports.length === 0) await takeReports();
    const tEnd = performance.now();
    sinkBytes = sinkResult?.bytes ?? sinkBytes;
    const last = tl.points[tl.points.length - 1];
    if (!last || last.t < (tEnd - t0) / 1000 - intervalMs / 2000) sample();
    const seconds = sinkResult?.seconds ?? (tEnd - t0) / 1000;
    const bytes = sinkResult?.bytes ?? sinkBytes;
    const integrity = failure ?? integrityOf(srcResult, sinkResult);
    const errors = scheduler.errors;
    const result = await liveRunResult(
      lab,
      spec,
      'ts',
      { bytes, seconds, integrity },
      tl,
      scheduler.applied,
      startedAt,
    );
    if (integrity === 'ok' && sinkResult) result.sha256 = sinkResult.sha256;
    if (errors.length > 0) result.notes = errors.map((e) => `event failed: ${e}`);
    return { result, reports };
  } finally {
    // a run that failed half way leaves no job behind in the agents
    if (!(sinkResult && srcResult)) await stopJobs();
    options.signal?.removeEventListener('abort', onAbort);
    offSend();
    offSink();
    await scheduler.stop();
    closeApplier();
    await Promise.allSettled([src.close(), sink.close()]);
  }
}
