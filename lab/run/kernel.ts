/**
 * Traffic runs through the Linux kernel inside the nodes: `--stack kernel` opens MPTCP sockets
 * (IPPROTO_MPTCP = 262), `--stack tcp` plain TCP ones, both through the agent bundle's kernel
 * traffic program (kernel-proc.ts: in a namespace, or in a VM's guest over SSH): the sink hashes
 * what it receives, the sender sends random bytes for a time or a byte count and hashes them; both
 * print JSON lines (progress per interval with the end's own subflow figures, then the result).
 * Either end may be the one that listens: normally the sink, with --reverse the sender (the sink
 * then connects, as iperf3 -R). Path indices are given in the order the sender's subflows appear.
 */
import type { KernelSubflow } from '../../stack/agent/kernel-traffic';
import { RuntimeFailure } from '../errors';
import type { Lab } from '../lab';
import { labApplier, ScenarioScheduler } from '../scenario/scheduler';
import type { StreamProcess } from '../vm/guest-process';
import { type KernelLine, kernelFigures, lines, spawnKernelTraffic } from './kernel-proc';
import { DEFAULT_INTERVAL_MS, DEFAULT_RUN_MS, type RunSpec, resolveEndpoints, runEnds } from './spec';
import type { LabRunOptions, LabRunOutput } from './ts';
import { TimelineBuilder } from './timeline';
import { integrityOf, liveRunResult } from './util';

/**
 * How long the listening end may take to listen: a VM guest starts Node under TCG, over SSH, on a
 * loaded machine; an end that fails exits and is reported at once.
 */
export const LISTEN_TIMEOUT_S = 60;

/**
 * `--stack kernel` (MPTCP) or `--stack tcp` through the kernels of the two nodes; `stacks` says
 * what each end runs when they differ (a kernel MPTCP end beside a plain TCP one falls back).
 */
export async function runKernel(
  lab: Lab,
  spec: RunSpec,
  options: LabRunOptions = {},
  stacks: { from: 'kernel' | 'tcp'; to: 'kernel' | 'tcp' } = {
    from: spec.stack === 'tcp' ? 'tcp' : 'kernel',
    to: spec.stack === 'tcp' ? 'tcp' : 'kernel',
  },
): Promise<LabRunOutput> {
  const ep = resolveEndpoints(lab.model, spec);
  const { host, source } = ep;
  const protoOf = (k: 'kernel' | 'tcp') => (k === 'kernel' ? 262 : 0);
  // the sending and the receiving end: <from> connects either way; with --reverse <to> sends
  const from = spec.reverse ? ep.to : ep.from;
  const to = spec.reverse ? ep.from : ep.to;
  const sendProto = protoOf(spec.reverse ? stacks.to : stacks.from);
  const recvProto = protoOf(spec.reverse ? stacks.from : stacks.to);
  const intervalMs = spec.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeMs = spec.bytes === undefined ? (spec.timeMs ?? DEFAULT_RUN_MS) : 0;
  const port = spec.port ?? 20000 + Math.floor(Math.random() * 20000);
  const startedAt = new Date().toISOString();
  const notes: string[] = [];
  if (stacks.from === 'kernel' && ep.from.stack !== 'kernel')
    notes.push(
      `node '${ep.from.name}' is not a stack: kernel node: its kernel has no MPTCP endpoints, so it opens one subflow`,
    );

  let sinkDone: KernelLine | undefined;
  let sendDone: KernelLine | undefined;
  // each end's latest own figures of its subflows (from its progress lines)
  let sinkSubflows: KernelSubflow[] = [];
  let sendSubflows: KernelSubflow[] = [];
  let sinkBytes = 0;
  let listening!: () => void;
  const isListening = new Promise<void>((r) => {
    listening = r;
  });
  // the sink reports 4× per interval, so each timeline sample sees bytes at most a quarter interval old
  const sinkArgs = ['sink', String(recvProto), host, String(port), String(intervalMs / 4000)];
  if (spec.reverse) sinkArgs.push('connect', source ?? '');
  const sendArgs = [
    'send',
    String(sendProto),
    host,
    String(port),
    String(spec.bytes ?? 0),
    String(timeMs / 1000),
    String(intervalMs / 1000),
    spec.reverse ? '' : (source ?? ''),
  ];
  if (spec.reverse) sendArgs.push('listen');
  let sinkP: StreamProcess | undefined;
  let sendP: StreamProcess | undefined;
  let sinkIo: ReturnType<typeof lines> | undefined;
  let sendIo: ReturnType<typeof lines> | undefined;
  let t0 = 0;
  let connectAt: number | undefined;
  let sinkDoneAt: number | undefined;
  // the connecting end says when the connection is up: the sender, or with --reverse the sink
  let connecting!: () => void;
  const isConnecting = new Promise<void>((r) => {
    connecting = r;
  });
  const connected = (l: KernelLine) => {
    // the run's clock starts when the connector is about to connect: its process start (in a VM
    // guest, over SSH) is no part of the transfer
    if (l.connecting) {
      t0 = performance.now();
      connecting();
    }
    if (l.connected) connectAt ??= (performance.now() - t0) / 1000;
  };
  const startSink = async () => {
    sinkP = await spawnKernelTraffic(lab, to, sinkArgs);
    sinkIo = lines(sinkP, (l) => {
      if (l.listening) listening();
      connected(l);
      if (l.subflows) sinkSubflows = l.subflows;
      if (l.done) {
        sinkDone = l;
        sinkDoneAt = (performance.now() - t0) / 1000;
      } else if (l.bytes !== undefined) sinkBytes = l.bytes;
    });
    return { io: sinkIo, proc: sinkP };
  };
  const startSender = async () => {
    sendP = await spawnKernelTraffic(lab, from, sendArgs);
    sendIo = lines(sendP, (l) => {
      if (l.listening) listening();
      connected(l);
      if (l.subflows) sendSubflows = l.subflows;
      if (l.done) sendDone = l;
    });
    return { io: sendIo, proc: sendP };
  };
  const tl = new TimelineBuilder();
  const { apply, settle, close: closeApplier } = labApplier(lab, spec.events ?? []);
  const scheduler = new ScenarioScheduler(spec.events ?? [], apply, {
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  let ticker: NodeJS.Timeout | undefined;
  const pathIdx = new Map<string, number>();
  const kill = () => Promise.all([sinkP, sendP].map((p) => p?.kill()));
  const onAbort = () => void kill();
  options.signal?.addEventListener('abort', onAbort);
  try {
    // the listening end first (<to>: the sink, or with --reverse the sender), then the connecting one
    const listenerEnd = await (spec.reverse ? startSender() : startSink());
    const role = spec.reverse ? 'sender' : 'sink';
    await Promise.race([
      isListening,
      listenerEnd.proc.exited.then(() => {
        throw new RuntimeFailure(
          `the ${role} on '${ep.to.name}' failed: ${listenerEnd.io.stderr() || 'exited'}`,
        );
      }),
      new Promise((_, rej) =>
        setTimeout(
          () => rej(new RuntimeFailure(`the ${role} did not start within ${LISTEN_TIMEOUT_S} s`)),
          LISTEN_TIMEOUT_S * 1000,
        ).unref(),
      ),
    ]);
    t0 = performance.now();
    const connectorEnd = await (spec.reverse ? startSink() : startSender());
    await Promise.race([
      isConnecting,
      connectorEnd.proc.exited.then(() => {
        throw new RuntimeFailure(
          `the ${spec.reverse ? 'sink' : 'sender'} on '${ep.from.name}' failed: ${connectorEnd.io.stderr() || 'exited'}`,
        );
      }),
      new Promise((_, rej) =>
        setTimeout(
          () =>
            rej(
              new RuntimeFailure(`the end on '${ep.from.name}' did not start within ${LISTEN_TIMEOUT_S} s`),
            ),
          LISTEN_TIMEOUT_S * 1000,
        ).unref(),
      ),
    ]);
    scheduler.start(t0);
    const figures = {
      host,
      port,
      pathIdx,
      ...(source !== undefined ? { source } : {}),
    };
    const tick = () => {
      // the sender numbers the paths: its figures first
      const senderFigs = kernelFigures(sendSubflows, {
        ...figures,
        role: 'send',
        open: spec.reverse ? 'listen' : 'connect',
      });
      const sinkFigs = kernelFigures(sinkSubflows, {
        ...figures,
        role: 'recv',
        open: spec.reverse ? 'connect' : 'listen',
      });
      const p = tl.sample((performance.now() - t0) / 1000, sinkBytes, sinkFigs, senderFigs);
      options.onPoint?.(p, tl.live());
    };
    ticker = setInterval(tick, intervalMs);
    const limitMs = (timeMs || 600_000) + 60_000;
    const [sinkCode, sendCode] = await Promise.race([
      Promise.all([sinkP!.exited, sendP!.exited]),
      new Promise<[number, number]>((r) =>
        setTimeout(() => {
          void kill();
          r([-1, -1]);
        }, limitMs).unref(),
      ),
    ]);
    clearInterval(ticker);
    await scheduler.stop();
    await settle();
    const tEnd = performance.now();
    if (sinkDone?.bytes !== undefined) sinkBytes = sinkDone.bytes;
    const last = tl.points[tl.points.length - 1];
    if (!last || last.t < (tEnd - t0) / 1000 - intervalMs / 2000)
      options.onPoint?.(tl.sample((tEnd - t0) / 1000, sinkBytes, [], []), tl.live());
    let integrity: string;
    if (options.signal?.aborted) integrity = 'interrupted';
    else if (!sendDone) integrity = `sender failed (exit ${sendCode}): ${sendIo!.stderr() || 'no result'}`;
    else if (!sinkDone) integrity = `receiver failed (exit ${sinkCode}): ${sinkIo!.stderr() || 'no result'}`;
    else
      integrity = integrityOf(
        { bytes: sendDone.bytes ?? 0, sha256: sendDone.sha256 ?? '' },
        { bytes: sinkDone.bytes ?? 0, sha256: sinkDone.sha256 ?? '' },
      );
    const seconds = sinkDone?.seconds ?? (tEnd - t0) / 1000;
    const bytes = sinkDone?.bytes ?? sinkBytes;
    const start = connectAt ?? 0;
    const endOfStream = sinkDoneAt ?? (tEnd - t0) / 1000;
    const timed = spec.bytes === undefined;
    const lastWrite =
      sendDone?.sendSeconds !== undefined
        ? start + sendDone.sendSeconds
        : timed
          ? Math.min(endOfStream, start + timeMs / 1000)
          : endOfStream;
    if (spec.stack === 'kernel')
      notes.push(
        "the kernel's MPTCP exposes no per-connection reinjection or data-level out-of-order byte counts: the timeline has retransmissions only",
      );
    const result = await liveRunResult(
      lab,
      spec,
      spec.stack,
      { bytes, seconds, integrity, window: { start, lastWrite, endOfStream, timed } },
      tl,
      scheduler.applied,
      startedAt,
    );
    if (spec.reverse) result.reverse = true;
    result.ends = runEnds(spec, (n) => (n === spec.from ? stacks.from : stacks.to));
    if (integrity === 'ok' && sinkDone?.sha256) result.sha256 = sinkDone.sha256;
    for (const e of scheduler.errors) notes.push(`event failed: ${e}`);
    if (notes.length > 0) result.notes = notes;
    return { result, reports: [] };
  } finally {
    if (ticker) clearInterval(ticker);
    options.signal?.removeEventListener('abort', onAbort);
    await kill();
    await scheduler.stop();
    closeApplier();
  }
}
