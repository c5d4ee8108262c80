/**
 * One end of a traffic run, whatever runs it: our stack through the node's agent (AgentEnd) or the
 * node's kernel (KernelEnd: MPTCP or plain TCP through the kernel traffic program of kernel-proc.ts,
 * in the node's namespace or its VM guest). An end is
 * a sender or a receiver, and it either listens or opens the connection; both ends hash with
 * SHA-256. The mixed-stack runner (mixed.ts) drives one of each kind; each end gives its own
 * per-subflow figures (the agent's from its stack, the kernel end's from its own getsockopt).
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
import { RuntimeFailure } from '../errors';
import type { Lab } from '../lab';
import type { NodeModel } from '../topology/model';
import type { StreamProcess } from '../vm/guest-process';
import { LISTEN_TIMEOUT_S } from './kernel';
import { type KernelLine, kernelFigures, lines, spawnKernelTraffic } from './kernel-proc';
import type { RunStack } from './result';
import type { SubflowFigure } from './timeline';

export interface EndPlan {
  node: NodeModel;
  role: 'send' | 'recv';
  /** Listen on `port` (at `host` for a kernel end) or connect to host:port (from `source`). */
  open: 'listen' | 'connect';
  host: string;
  port: number;
  source?: string;
  /** What to send (sender): a byte count or a duration. */
  bytes?: number;
  timeMs?: number;
  intervalMs: number;
  jobId: string;
}

export interface EndOutcome {
  bytes: number;
  sha256: string;
  seconds: number;
  error?: string;
}

export interface TrafficEnd {
  readonly node: string;
  readonly stack: RunStack;
  /** Starts the end; resolves once it listens (a listener) or has started connecting. */
  start(): Promise<void>;
  /** Application bytes moved so far and the latest per-subflow figures of this end. */
  bytes(): number;
  subflows(): Promise<SubflowFigure[]>;
  /** Resolves when the end finished (with its result, or an error in it). */
  readonly done: Promise<EndOutcome>;
  /** Resolves with a reason when the end's process died (liveness), never otherwise. */
  readonly died: Promise<string>;
  /** Stops the end (abort: reset the connection). */
  stop(abort: boolean): Promise<void>;
  /** A state report while the connection is up, when the end has one. */
  report(): Promise<AgentReport | undefined>;
  close(): Promise<void>;
}

function outcome(r: TrafficResult): EndOutcome {
  const o: EndOutcome = { bytes: r.bytes, sha256: r.sha256, seconds: r.seconds };
  if (r.error) o.error = `${r.error.code}: ${r.error.message}`;
  return o;
}

/**
 * What both kinds of end share: the node's name and the two outcomes a runner waits on, settled by
 * the subclass.
 */
abstract class EndBase {
  readonly node: string;
  readonly done: Promise<EndOutcome>;
  readonly died: Promise<string>;
  protected resolveDone!: (o: EndOutcome) => void;
  protected resolveDied!: (why: string) => void;

  constructor(
    protected readonly lab: Lab,
    protected readonly plan: EndPlan,
  ) {
    this.node = plan.node.name;
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
    this.died = new Promise((r) => {
      this.resolveDied = r;
    });
  }
}

/** Our stack on a `stack: ts` node, through its agent. */
export class AgentEnd extends EndBase implements TrafficEnd {
  readonly stack = 'ts' as const;
  private client!: AgentClient;
  private figures: TrafficProgress['subflows'] = [];
  private moved = 0;
  private unwatch: (() => void) | undefined;
  private offs: (() => void)[] = [];

  constructor(
    lab: Lab,
    plan: EndPlan,
    private readonly heartbeatMs?: number,
  ) {
    super(lab, plan);
  }

  async start(): Promise<void> {
    const p = this.plan;
    this.client = await this.lab.agent(this.node);
    const proc = this.lab.agentProcess(this.node);
    this.unwatch = watchAgent(this.client, this.node, (why) => this.resolveDied(why), {
      ...(proc.pid !== undefined ? { pid: proc.pid, marker: proc.socket } : {}),
      ...(this.heartbeatMs !== undefined
        ? { deadlineMs: this.heartbeatMs }
        : proc.deadlineMs !== undefined
          ? { deadlineMs: proc.deadlineMs }
          : {}),
    });
    this.offs.push(
      this.client.onNotification('traffic.progress', (n: TrafficProgress) => {
        if (n.id !== p.jobId) return;
        this.figures = n.subflows;
        this.moved = n.bytes;
      }),
      this.client.onNotification('traffic.done', (d: TrafficDone) => {
        if (d.id !== p.jobId) return;
        this.moved = d.result.bytes;
        this.resolveDone(outcome(d.result));
      }),
    );
    if (p.role === 'recv') {
      const params: ParamsOf<'traffic.sink'> = {
        port: p.port,
        id: p.jobId,
        intervalMs: p.intervalMs,
        once: true,
      };
      if (p.open === 'connect') {
        params.host = p.host;
        if (p.source !== undefined) params.localAddress = p.source;
      }
      await this.client.call('traffic.sink', params);
    } else {
      const params: ParamsOf<'traffic.send'> = { port: p.port, id: p.jobId, intervalMs: p.intervalMs };
      if (p.bytes !== undefined) params.bytes = p.bytes;
      else params.durationMs = p.timeMs ?? 10_000;
      if (p.open === 'listen') params.listen = true;
      else {
        params.host = p.host;
        if (p.source !== undefined) params.localAddress = p.source;
      }
      await this.client.call('traffic.send', params);
    }
  }

  bytes(): number {
    return this.moved;
  }

  async subflows(): Promise<SubflowFigure[]> {
    return this.figures.map((f) => ({ ...f }));
  }

  async stop(abort: boolean): Promise<void> {
    if (!this.client?.isOpen) return;
    await this.client
      .call('traffic.stop', abort ? { id: this.plan.jobId, abort: true } : { id: this.plan.jobId }, {
        timeoutMs: 3000,
      })
      .catch(() => {});
  }

  async report(): Promise<AgentReport | undefined> {
    try {
      return await this.client.call('report', undefined, { timeoutMs: 3000 });
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.unwatch?.();
    for (const off of this.offs) off();
    await this.client?.close();
  }
}

/** The kernel of a node (MPTCP, or plain TCP): its namespace's, or its VM guest's. */
export class KernelEnd extends EndBase implements TrafficEnd {
  private proc: StreamProcess | undefined;
  private moved = 0;
  private latest: NonNullable<KernelLine['subflows']> = [];
  private readonly pathIdx = new Map<string, number>();
  private finished = false;

  constructor(
    lab: Lab,
    plan: EndPlan,
    readonly stack: 'kernel' | 'tcp',
  ) {
    super(lab, plan);
  }

  async start(): Promise<void> {
    const p = this.plan;
    const proto = String(this.stack === 'kernel' ? 262 : 0);
    const args =
      p.role === 'recv'
        ? ['sink', proto, p.host, String(p.port), String(p.intervalMs / 4000)]
        : [
            'send',
            proto,
            p.host,
            String(p.port),
            String(p.bytes ?? 0),
            String(p.bytes === undefined ? (p.timeMs ?? 10_000) / 1000 : 0),
            String(p.intervalMs / 1000),
            p.open === 'connect' ? (p.source ?? '') : '',
          ];
    if (p.role === 'recv' && p.open === 'connect') args.push('connect', p.source ?? '');
    if (p.role === 'send' && p.open === 'listen') args.push('listen');
    const proc = await spawnKernelTraffic(this.lab, p.node, args);
    this.proc = proc;
    let ready!: () => void;
    const started = new Promise<void>((r) => {
      ready = r;
    });
    const io = lines(proc, (l: KernelLine) => {
      // a listener is ready when it listens, a connector when it starts connecting (its start
      // took a process start, in a VM guest over SSH: not part of the run's window)
      if (l.listening || l.connecting) ready();
      if (l.subflows) this.latest = l.subflows;
      if (l.done) {
        this.finished = true;
        this.moved = l.bytes ?? this.moved;
        this.resolveDone({ bytes: l.bytes ?? 0, sha256: l.sha256 ?? '', seconds: l.seconds ?? 0 });
      } else if (l.bytes !== undefined) this.moved = l.bytes;
    });
    void proc.exited.then((code) => {
      if (this.finished) return;
      const why = `the ${this.stack === 'kernel' ? "kernel's MPTCP" : 'TCP'} ${p.role === 'send' ? 'sender' : 'receiver'} on node '${this.node}' exited (code ${code})${io.stderr() ? `: ${io.stderr()}` : ''}`;
      this.resolveDone({ bytes: this.moved, sha256: '', seconds: 0, error: why });
      this.resolveDied(why);
    });
    await Promise.race([
      started,
      proc.exited.then(() => {
        throw new RuntimeFailure(
          `the ${p.role === 'send' ? 'sender' : 'receiver'} on '${this.node}' failed: ${io.stderr() || 'exited'}`,
        );
      }),
      new Promise<void>((_, rej) =>
        setTimeout(
          () =>
            rej(new RuntimeFailure(`the end on '${this.node}' did not start within ${LISTEN_TIMEOUT_S} s`)),
          LISTEN_TIMEOUT_S * 1000,
        ).unref(),
      ),
    ]);
  }

  bytes(): number {
    return this.moved;
  }

  async subflows(): Promise<SubflowFigure[]> {
    const p = this.plan;
    return kernelFigures(this.latest, {
      role: p.role,
      open: p.open,
      host: p.host,
      port: p.port,
      source: p.source,
      pathIdx: this.pathIdx,
    });
  }

  async stop(_abort: boolean): Promise<void> {
    // the kernel end has no graceful stop: killing it resets its connection
    if (this.proc && !this.finished) {
      this.finished = true;
      this.resolveDone({ bytes: this.moved, sha256: '', seconds: 0, error: 'ESTOPPED: stopped' });
      await this.proc.kill();
    }
  }

  async report(): Promise<AgentReport | undefined> {
    return undefined;
  }

  async close(): Promise<void> {
    await this.stop(true);
    // a finished end's process has exited; its (VM) session closes with it
    await this.proc?.kill();
  }
}
