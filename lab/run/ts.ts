/**
 * A traffic run through our stack: <from>'s agent connects to <to>'s first address; the sender is
 * <from> (a sink listens on <to>) or, reversed, <to> (it listens and sends to the connection, and
 * <from>'s sink connects), both hashing with SHA-256; the agents' `traffic.progress` notifications
 * (per-subflow bytes, cwnd, RTT) become the timeline while the scenario scheduler applies events.
 * Both agents are watched (control connection, pid, heartbeat): one that dies fails the run at once.
 */
import type { AgentClient } from '../../stack/agent/client';
import type {
  AgentReport,
  ParamsOf,
  TrafficDone,
  TrafficProgress,
  TrafficResult,
} from '../../stack/agent/protocol';
import { watchAgent } from '../agents';
import { RuntimeFailure, UsageError } from '../errors';
import type { Lab } from '../lab';
import { labApplier, ScenarioScheduler } from '../scenario/scheduler';
import type { RunEvent, RunResult, TimelinePoint } from './result';
import {
  DEFAULT_INTERVAL_MS,
  DEFAULT_RUN_MS,
  type RunSpec,
  resolveEndpoints,
  runEnds,
  runRoles,
} from './spec';
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
  /** An agent whose heartbeat stays unanswered this long counts as dead (default 1500 ms). */
  heartbeatMs?: number;
}

export interface LabRunOutput {
  result: RunResult;
  /** State reports of receiver and sender, taken while the connection was up. */
  reports: { node: string; report: AgentReport }[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function waitDone(client: AgentClient, id: string, node: string): Promise<TrafficResult> {
  return new Promise((resolve, reject) => {
    const off = client.onNotification('traffic.done', (d: TrafficDone) => {
      if (d.id !== id) return;
      off();
      resolve(d.result);
    });
    client
      .closed()
      .then(() =>
        reject(
          new RuntimeFailure(
            `node '${node}': agent control connection closed during the run (did the node stop?)`,
          ),
        ),
      );
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
  // unique per run and per connection: --parallel starts several in the same millisecond
  const jobId = `run-${process.pid}-${Date.now().toString(36)}-${port}`;
  const startedAt = new Date().toISOString();

  const { sender, receiver } = runRoles(spec);
  const sink = await lab.agent(receiver);
  let src: AgentClient;
  try {
    src = await lab.agent(sender);
  } catch (e) {
    await sink.close();
    throw e;
  }
  // an agent that dies ends the run within the heartbeat deadline, naming it
  let dead: string | undefined;
  let deadNode: string | undefined;
  const unwatch = [
    [receiver, sink],
    [sender, src],
  ].map(([node, c]) => {
    const proc = lab.agentProcess(node as string);
    return watchAgent(
      c as AgentClient,
      node as string,
      (why) => {
        if (dead === undefined) {
          dead = why;
          deadNode = node as string;
        }
      },
      {
        ...(proc.pid !== undefined ? { pid: proc.pid, marker: proc.socket } : {}),
        ...(options.heartbeatMs !== undefined
          ? { deadlineMs: options.heartbeatMs }
          : proc.deadlineMs !== undefined
            ? { deadlineMs: proc.deadlineMs }
            : {}),
      },
    );
  });
  const { apply, settle, close: closeApplier } = labApplier(lab, spec.events ?? []);
  const scheduler = new ScenarioScheduler(spec.events ?? [], apply, {
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  const tl = new TimelineBuilder();
  const reports: LabRunOutput['reports'] = [];
  let senderFigs: TrafficProgress['subflows'] = [];
  let sinkFigs: TrafficProgress['subflows'] = [];
  let sinkBytes = 0;
  let sinkOoo: number | undefined;
  let t0 = 0;
  // The sender's connect on the timeline's clock: when its first progress arrived, less its age
  // (its `t` counts from connect), so no clock is compared across nodes.
  let connectAt: number | undefined;
  let sinkDoneAt: number | undefined;
  let lastProgress = performance.now();
  const sample = () => {
    const p = tl.sample(
      (performance.now() - t0) / 1000,
      sinkBytes,
      sinkFigs,
      senderFigs,
      sinkOoo !== undefined ? { oooBytes: sinkOoo } : {},
    );
    options.onPoint?.(p, tl.live());
  };
  const offSend = src.onNotification('traffic.progress', (p) => {
    if (p.id !== jobId) return;
    senderFigs = p.subflows;
    connectAt ??= Math.max(0, (performance.now() - t0) / 1000 - p.t);
  });
  const offSink = sink.onNotification('traffic.progress', (p) => {
    if (p.id !== jobId) return;
    sinkFigs = p.subflows;
    if (p.oooBytes !== undefined) sinkOoo = p.oooBytes;
    if (p.bytes > sinkBytes) lastProgress = performance.now();
    sinkBytes = p.bytes;
    sample();
  });
  let sinkResult: TrafficResult | undefined;
  let srcResult: TrafficResult | undefined;
  let stopping = false;
  const stopJobs = async (abort = false) => {
    if (stopping) return;
    stopping = true;
    const params = abort ? { id: jobId, abort: true } : { id: jobId };
    // a dead (or hung) agent is not asked: only the survivor has a job to stop
    await Promise.allSettled(
      (
        [
          [sender, src],
          [receiver, sink],
        ] as const
      )
        .filter(([node]) => node !== deadNode)
        .map(([, c]) => c.call('traffic.stop', params, { timeoutMs: 3000 })),
    );
  };
  const onAbort = () => void stopJobs();
  options.signal?.addEventListener('abort', onAbort);
  try {
    const sinkDone = waitDone(sink, jobId, receiver);
    const srcDone = waitDone(src, jobId, sender);
    sinkDone.then(
      () => {
        sinkDoneAt = (performance.now() - t0) / 1000;
      },
      () => {},
    );
    srcDone.catch(() => {});
    const params: ParamsOf<'traffic.send'> = { port, id: jobId, intervalMs };
    if (spec.bytes !== undefined) params.bytes = spec.bytes;
    else params.durationMs = timeMs;
    if (spec.reverse) {
      // <to> listens and sends; <from>'s sink opens the connection
      params.listen = true;
      await src.call('traffic.send', params);
      t0 = performance.now();
      lastProgress = t0;
      const sinkParams: ParamsOf<'traffic.sink'> = { port, id: jobId, intervalMs, host };
      if (source !== undefined) sinkParams.localAddress = source;
      await sink.call('traffic.sink', sinkParams);
    } else {
      await sink.call('traffic.sink', { port, id: jobId, intervalMs, once: true });
      t0 = performance.now();
      lastProgress = t0;
      params.host = host;
      if (source !== undefined) params.localAddress = source;
      await src.call('traffic.send', params);
    }
    scheduler.start(t0);

    // reports while the connection is up
    const reportAt = timeMs !== undefined ? t0 + timeMs * (options.reportAt ?? 0.9) : undefined;
    const takeReports = async () => {
      if (reports.length > 0) return;
      for (const [node, c] of [
        [receiver, sink],
        [sender, src],
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
    // an end whose agent connection closed (its node stopped) fails the run at once, naming it
    let lost: string | undefined;
    sinkDone.then(
      (r) => {
        sinkResult = r;
      },
      (e: Error) => {
        lost ??= e.message;
      },
    );
    srcDone.then(
      (r) => {
        srcResult = r;
      },
      (e: Error) => {
        lost ??= e.message;
      },
    );
    let failure: string | undefined;
    for (;;) {
      if (sinkResult && srcResult) break;
      if (dead !== undefined || lost !== undefined) {
        // no waiting for the dead end: abort the survivor's connection and report at once
        // (dead: the watcher's verdict — pid gone or heartbeat unanswered; lost: its control
        // connection closed, a VM or remote node that stopped)
        failure = dead ?? lost;
        await stopJobs(true);
        break;
      }
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
    if (reports.length === 0 && dead === undefined) await takeReports();
    const tEnd = performance.now();
    sinkBytes = sinkResult?.bytes ?? sinkBytes;
    const last = tl.points[tl.points.length - 1];
    if (!last || last.t < (tEnd - t0) / 1000 - intervalMs / 2000) sample();
    const seconds = sinkResult?.seconds ?? (tEnd - t0) / 1000;
    const bytes = sinkResult?.bytes ?? sinkBytes;
    const integrity = failure ?? integrityOf(srcResult, sinkResult);
    const errors = scheduler.errors;
    const start = connectAt ?? 0;
    const endOfStream = sinkDoneAt ?? (tEnd - t0) / 1000;
    const lastWrite =
      srcResult?.sendSeconds !== undefined
        ? start + srcResult.sendSeconds
        : timeMs !== undefined
          ? Math.min(endOfStream, start + timeMs / 1000)
          : endOfStream;
    const result = await liveRunResult(
      lab,
      spec,
      'ts',
      { bytes, seconds, integrity, window: { start, lastWrite, endOfStream, timed: timeMs !== undefined } },
      tl,
      scheduler.applied,
      startedAt,
      deadNode !== undefined ? [deadNode] : [],
    );
    if (spec.reverse) result.reverse = true;
    result.ends = runEnds(spec, () => 'ts');
    if (integrity === 'ok' && sinkResult) result.sha256 = sinkResult.sha256;
    if (errors.length > 0) result.notes = errors.map((e) => `event failed: ${e}`);
    return { result, reports };
  } finally {
    // a run that failed half way leaves no job behind in the agents
    if (!(sinkResult && srcResult)) await stopJobs(dead !== undefined);
    for (const u of unwatch) u();
    options.signal?.removeEventListener('abort', onAbort);
    offSend();
    offSink();
    await scheduler.stop();
    closeApplier();
    await Promise.allSettled([src.close(), sink.close()]);
  }
}
