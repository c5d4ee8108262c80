/**
 * Applies scenario events to a running lab while traffic runs. Each event has an absolute deadline
 * (`t0 + at`, t0 being the transfer start on the monotonic clock), so a slow event never shifts the
 * ones after it; how late each one took effect is measured and recorded (`at` scheduled, `t`
 * applied, both in seconds from the start).
 *
 * Link events on emulated links go straight to the emulator's control socket (a few hundred
 * microseconds); the lab's state file is then brought up to date off the timed path. Other link
 * events go through Lab.link (tc / ip link inside the nodes), knob events through Lab.sysctl.
 */
import type { Lab, LinkChangeRequest } from '../lab';
import type { RunEvent } from '../run/result';
import { routeLine } from '../topology/iproute';
import type { DirParams, NodeModel, ScenarioEvent } from '../topology/model';
import { IpShell } from './ipshell';
import { StateFile } from '../state';
import { describeEvent } from './describe';

export type ApplyFn = (e: ScenarioEvent) => Promise<void>;

const now = () => performance.now();

/** A stop flag with a way to cut a pending sleep short. */
export interface StopSignal {
  stopped: boolean;
  wake?: () => void;
}

/** Resolves at the monotonic time `deadline` (ms): a timer, then a short spin for the last ms. */
export async function sleepUntil(deadline: number, signal?: StopSignal): Promise<void> {
  for (;;) {
    const left = deadline - now();
    if (left <= 0 || signal?.stopped) return;
    if (left > 2)
      await new Promise<void>((r) => {
        const t = setTimeout(r, left - 1.5);
        if (signal)
          signal.wake = () => {
            clearTimeout(t);
            r();
          };
      });
    else await new Promise((r) => setImmediate(r));
  }
}

export interface SchedulerOptions {
  onEvent?: (e: RunEvent) => void;
  onError?: (e: ScenarioEvent, err: Error) => void;
}

export class ScenarioScheduler {
  readonly applied: RunEvent[] = [];
  readonly errors: string[] = [];
  private readonly signal: StopSignal = { stopped: false };
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly events: readonly ScenarioEvent[],
    private readonly apply: ApplyFn,
    private readonly options: SchedulerOptions = {},
  ) {}

  /** Starts applying events relative to `t0` (performance.now() of the transfer start). */
  start(t0: number): void {
    const sorted = [...this.events].sort((a, b) => a.at - b.at);
    this.running = (async () => {
      for (const e of sorted) {
        await sleepUntil(t0 + e.at, this.signal);
        if (this.signal.stopped) return;
        try {
          await this.apply(e);
          const ev: RunEvent = {
            t: Math.round(now() - t0) / 1000,
            at: e.at / 1000,
            what: describeEvent(e),
          };
          this.applied.push(ev);
          this.options.onEvent?.(ev);
        } catch (err) {
          const msg = `${describeEvent(e)}: ${(err as Error).message}`;
          this.errors.push(msg);
          this.options.onError?.(e, err as Error);
        }
      }
    })();
  }

  /** Stops before the next event; resolves once the current one (if any) is done. */
  async stop(): Promise<void> {
    this.signal.stopped = true;
    this.signal.wake?.();
    await this.running;
  }

  /** Resolves when every event has been applied (or the scheduler was stopped). */
  finished(): Promise<void> {
    return this.running;
  }
}

/** The endpoint spec ("node:iface") Lab.link takes for an event's link, and its dir option. */
export function eventEndpoint(lab: Lab, e: Extract<ScenarioEvent, { link: string }>): string {
  if (e.target.includes(':')) return e.target;
  const l = lab.model.links.find((x) => x.id === e.link);
  if (!l) throw new Error(`no link ${e.link}`);
  return `${l.a.node}:${l.a.iface}`;
}

/** How an event's direction reads relative to the endpoint Lab.link is given. */
function dirFor(lab: Lab, e: Extract<ScenarioEvent, { action: 'link-set' }>): LinkChangeRequest['dir'] {
  if (e.dir === 'both') return 'both';
  const l = lab.model.links.find((x) => x.id === e.link);
  const ep = eventEndpoint(lab, e);
  const isA = l !== undefined && ep === `${l.a.node}:${l.a.iface}`;
  // a→b leaves a (egress of a, ingress of b)
  return (e.dir === 'ab') === isA ? 'egress' : 'ingress';
}

/** Parameters a running lab can change on a link (the rest need a new lab). */
const RUNTIME_PARAMS = new Set(['rateMbps', 'delayMs', 'jitterMs', 'lossPct']);

/** Checks, before anything runs, that a lab can apply these events; returns the problems. */
export function checkEventsForLab(lab: Lab, events: readonly ScenarioEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.action === 'link-set') {
      const bad = Object.keys(e.params).filter((k) => !RUNTIME_PARAMS.has(k));
      if (bad.length > 0)
        out.push(
          `${describeEvent(e)}: a running lab changes only rate, delay, jitter and loss (not ${bad.join(', ')})`,
        );
    }
    if (e.action !== 'sysctl' && !lab.model.links.some((l) => l.id === e.link)) out.push(`no link ${e.link}`);
  }
  return out;
}

/** The `ip` batch lines that take an interface down or up (with its planned routes, like Lab.link). */
export function ifaceLines(node: NodeModel, ifname: string, up: boolean): string[] {
  const lines = [`link set dev ${ifname} ${up ? 'up' : 'down'}`];
  if (up)
    for (const r of node.routes)
      if (r.dev === ifname || r.nexthops?.some((n) => n.dev === ifname)) lines.push(routeLine(r));
  return lines;
}

/** Applies events to a running lab (see the module comment); `close` ends its helper processes. */
export function labApplier(
  lab: Lab,
  events: readonly ScenarioEvent[] = [],
): { apply: ApplyFn; settle: () => Promise<void>; close: () => void } {
  // one persistent `ip -batch` per node on a veth link that goes down or up
  const shells = new Map<string, IpShell>();
  const nodeOf = (name: string) => lab.model.nodes.find((n) => n.name === name);
  for (const e of events) {
    if (e.action !== 'link-down' && e.action !== 'link-up') continue;
    if (lab.state.links.find((l) => l.id === e.link)?.via === 'emulator') continue;
    const l = lab.model.links.find((x) => x.id === e.link);
    if (!l || lab.state.backend !== 'netns') continue;
    for (const end of [l.a, l.b]) {
      const n = nodeOf(end.node);
      if (n && !shells.has(n.name)) shells.set(n.name, new IpShell(n.netns));
    }
  }
  // The lab's state file follows what was applied, off the timed path (record only: never re-apply,
  // so a late bookkeeping step cannot undo a later event).
  let bookkeeping: Promise<unknown> = Promise.resolve();
  const record = (link: string, change: { up?: boolean; dir?: 'ab' | 'ba'; params?: DirParams }) => {
    bookkeeping = bookkeeping
      .then(() => {
        const sf = StateFile.open(lab.name);
        const applied = sf?.state.links.find((l) => l.id === link);
        const stored = sf?.state.model?.links.find((l) => l.id === link);
        if (!sf || !applied || !stored) return;
        if (change.up !== undefined) applied.up = change.up;
        if (change.dir && change.params) stored[change.dir] = change.params;
        sf.save();
      })
      .catch(() => {});
  };
  const emulatorSocket = lab.state.processes.find((p) => p.kind === 'emulator')?.socket;
  // loaded now, not on the timed path
  let emuModule: Promise<typeof import('../emulator/index')> | undefined = emulatorSocket
    ? import('../emulator/index')
    : undefined;
  emuModule?.catch(() => {});
  // parameters as this applier last set them (the state file catches up off the timed path)
  const current = new Map<string, DirParams>();
  const viaOf = (id: string) => lab.state.links.find((l) => l.id === id)?.via;
  const apply: ApplyFn = async (e) => {
    if (e.action === 'sysctl') {
      await Promise.all(e.nodes.map((n) => lab.sysctl(n, [`${e.key}=${e.value}`])));
      return;
    }
    const spec = eventEndpoint(lab, e);
    const change: LinkChangeRequest =
      e.action === 'link-set' ? { ...pick(e.params), dir: dirFor(lab, e) } : { up: e.action === 'link-up' };
    if (viaOf(e.link) === 'emulator' && emulatorSocket) {
      const emu = await (emuModule ??= import('../emulator/index'));
      if (e.action === 'link-set') {
        const model = lab.model.links.find((l) => l.id === e.link);
        if (model) {
          const { applyChange } = await import('../links/shaping');
          const dirs: ('ab' | 'ba')[] = e.dir === 'both' ? ['ab', 'ba'] : [e.dir];
          for (const d of dirs) {
            const key = `${e.link}/${d}`;
            const next = applyChange(current.get(key) ?? model[d], change);
            current.set(key, next);
            await emu.setLink(emulatorSocket, e.link, d, next, true);
            record(e.link, { dir: d, params: next });
          }
        }
      } else {
        await emu.linkUpDown(emulatorSocket, e.link, e.action === 'link-up');
        record(e.link, { up: e.action === 'link-up' });
      }
      return;
    }
    const l = lab.model.links.find((x) => x.id === e.link);
    if (e.action !== 'link-set' && l) {
      const ends = [l.a, l.b].map((end) => ({
        shell: shells.get(end.node),
        node: nodeOf(end.node),
        iface: end.iface,
      }));
      if (ends.every((x) => x.shell && x.node)) {
        const up = e.action === 'link-up';
        await Promise.all(ends.map((x) => x.shell!.run(ifaceLines(x.node!, x.iface, up))));
        record(e.link, { up });
        return;
      }
    }
    await lab.link(spec, change);
  };
  return {
    apply,
    settle: () => bookkeeping.then(() => undefined),
    close: () => {
      for (const s of shells.values()) s.close();
    },
  };
}

function pick(p: Extract<ScenarioEvent, { action: 'link-set' }>['params']): LinkChangeRequest {
  const c: LinkChangeRequest = {};
  if (p.rateMbps !== undefined) c.rateMbps = p.rateMbps;
  if (p.delayMs !== undefined) c.delayMs = p.delayMs;
  if (p.jitterMs !== undefined) c.jitterMs = p.jitterMs;
  if (p.lossPct !== undefined) c.lossPct = p.lossPct;
  return c;
}
