/**
 * Campaign files: YAML validated with zod, every problem named file:line:col (the topology loader's
 * position machinery). A campaign names a topology, the run (endpoints, time or bytes, stack), a
 * matrix of axes and the repetitions:
 *
 *   name: sched-vs-rate
 *   topology: ../topologies/two-host.yaml     # relative to this file
 *   run: { from: a, to: b, time: 5s, stack: ts }   # reverse: true → b sends to a (a connects)
 *   matrix:
 *     stack: [ts, tcp]
 *     reverse: [false, true]                     # who sends on the connection <from> opens
 *     knobs.net.mptcp.mptcp_scheduler: [default, roundrobin]
 *     links.wifi.rate: [5mbit, 20mbit]          # links.<link id>.<rate|delay|jitter|loss|queue>
 *   repetitions: 3
 *   seed: 42
 *
 * `loadCampaign` turns it into the runner's CampaignSpec (axes, repetitions, seed, and a `base`
 * that pins the topology by content hash so --resume refuses a changed one) plus what is needed to
 * build each run: `prepareRun` gives the cell's model (links changed, knobs set) and RunSpec.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap } from 'yaml';
import * as z from 'zod';
import type { RunStack } from '../run/result';
import type { RunSpec } from '../run/spec';
import { checkKnob } from '../topology/knobs';
import type { DirParams, LabModel, LinkModel } from '../topology/model';
import { TopologyError } from '../topology/model';
import { needsNetem } from '../topology/plan';
import { type Path, parseYaml, readSource } from '../topology/positions';
import { didYouMean } from '../topology/suggest';
import { parsePercent, parseQueue, parseRate, parseSize, parseTime } from '../topology/units';
import type { AxisValue } from './matrix';
import type { CampaignSpec } from './runner';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const runSchema = z.strictObject({
  from: z.string(),
  to: z.string(),
  time: z.union([z.string(), z.number()]).optional(),
  bytes: z.union([z.string(), z.number()]).optional(),
  stack: z.enum(['ts', 'kernel', 'tcp']).optional(),
  /** <to> sends to <from> over the connection <from> opens (iperf3 -R). */
  reverse: z.boolean().optional(),
  interval: z.union([z.string(), z.number()]).optional(),
  events: z.boolean().optional(),
});

export const campaignSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
    error: 'a campaign name holds letters, digits, "_", "." and "-"',
  }),
  topology: z.string(),
  run: runSchema,
  matrix: z.record(z.string(), z.array(scalar).min(1)).optional(),
  repetitions: z.number().int().min(1).max(1000).optional(),
  seed: z.number().int().min(0).optional(),
});

export const LINK_PARAMS = ['rate', 'delay', 'jitter', 'loss', 'queue'] as const;
type LinkParam = (typeof LINK_PARAMS)[number];

export interface CampaignRunBase {
  from: string;
  to: string;
  stack: RunStack;
  /** <to> sends, <from> receives (and still opens the connection). */
  reverse?: boolean;
  timeMs?: number;
  bytes?: number;
  intervalMs: number;
  /** Apply the topology's events in every run (default true). */
  events: boolean;
}

export interface LoadedCampaign {
  spec: CampaignSpec;
  file: string;
  topology: string;
  run: CampaignRunBase;
  /** file:line:col of the run's endpoints and of each matrix axis (for checks against the topology). */
  where: Record<string, { line: number; col: number }>;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/** Reads a campaign file; throws TopologyError (file:line:col) on any problem. */
export function loadCampaign(file: string): LoadedCampaign {
  const source = readSource(file, 'campaign');
  return parseCampaign(source, file);
}

export function parseCampaign(source: string, file: string): LoadedCampaign {
  const { doc, src, issues } = parseYaml(source, file);
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  const data: unknown = doc.toJS();
  if (!isMap(doc.contents))
    throw new TopologyError([
      { file, line: 1, col: 1, message: 'expected a mapping with name, topology, run, matrix' },
    ]);
  const parsed = campaignSchema.safeParse(data);
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const path = iss.path as PropertyKey[];
      if (iss.code === 'unrecognized_keys') {
        for (const k of iss.keys) issues.atKey([...path, k], `unknown key "${k}"`);
      } else if (iss.code === 'invalid_type' && !hasPath(data, path)) {
        issues.at(path, `missing required key "${String(path[path.length - 1])}"`);
      } else issues.at(path, iss.message);
    }
    throw new TopologyError(issues.sorted());
  }
  const c = parsed.data;
  const topology = resolve(dirname(resolve(file)), c.topology);
  let topoText = '';
  try {
    topoText = readFileSync(topology, 'utf8');
  } catch {
    issues.at(['topology'], `no such topology file: ${topology}`);
  }
  const run: CampaignRunBase = {
    from: c.run.from,
    to: c.run.to,
    stack: c.run.stack ?? 'ts',
    intervalMs: 200,
    events: c.run.events ?? true,
  };
  if (c.run.reverse) run.reverse = true;
  if (c.run.time !== undefined && c.run.bytes !== undefined)
    issues.atKey(['run', 'bytes'], 'give time or bytes, not both');
  if (c.run.time !== undefined) {
    const t =
      typeof c.run.time === 'number'
        ? { ok: true as const, value: c.run.time * 1000 }
        : parseTime(c.run.time);
    if (t.ok && t.value > 0) run.timeMs = t.value;
    else issues.at(['run', 'time'], t.ok ? 'time must be > 0' : t.message);
  } else if (c.run.bytes !== undefined) {
    const b =
      typeof c.run.bytes === 'number' ? { ok: true as const, value: c.run.bytes } : parseSize(c.run.bytes);
    if (b.ok && b.value > 0) run.bytes = b.value;
    else issues.at(['run', 'bytes'], b.ok ? 'bytes must be > 0' : b.message);
  } else run.timeMs = 10_000;
  if (c.run.interval !== undefined) {
    const t =
      typeof c.run.interval === 'number'
        ? { ok: true as const, value: c.run.interval * 1000 }
        : parseTime(c.run.interval);
    if (t.ok && t.value >= 10) run.intervalMs = t.value;
    else issues.at(['run', 'interval'], t.ok ? 'interval must be at least 10ms' : t.message);
  }
  const axes: CampaignSpec['axes'] = [];
  for (const [name, values] of Object.entries(c.matrix ?? {})) {
    const at: Path = ['matrix', name];
    if (name === 'stack') {
      values.forEach((v, i) => {
        if (v !== 'ts' && v !== 'kernel' && v !== 'tcp')
          issues.at([...at, i], `stack: expected ts, kernel or tcp, got ${JSON.stringify(v)}`);
      });
    } else if (name === 'reverse') {
      values.forEach((v, i) => {
        if (typeof v !== 'boolean')
          issues.at([...at, i], `reverse: expected true or false, got ${JSON.stringify(v)}`);
      });
    } else if (name.startsWith('knobs.')) {
      const knob = name.slice('knobs.'.length);
      values.forEach((v, i) => {
        const r = checkKnob('ts', knob, typeof v === 'boolean' ? Number(v) : v);
        if (!r.ok)
          issues.at(
            r.where === 'key' ? at : [...at, i],
            r.where === 'key' ? `matrix axis "${name}": ${r.message}` : r.message,
          );
      });
      if (issues.count > 0) continue;
    } else if (name.startsWith('links.')) {
      const rest = name.slice('links.'.length);
      const dot = rest.lastIndexOf('.');
      const param = rest.slice(dot + 1);
      if (dot <= 0 || !(LINK_PARAMS as readonly string[]).includes(param)) {
        issues.atKey(at, `matrix axis "${name}": expected links.<link id>.<${LINK_PARAMS.join('|')}>`);
        continue;
      }
      values.forEach((v, i) => {
        const r = linkParam(param as LinkParam, v);
        if (!r.ok) issues.at([...at, i], r.message);
      });
    } else {
      issues.atKey(
        at,
        `unknown matrix axis "${name}": expected stack, reverse, knobs.<knob>, or links.<link id>.<param>`,
      );
      continue;
    }
    axes.push({ name, values: values.map((v) => v as AxisValue) });
  }
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  const spec: CampaignSpec = {
    name: c.name,
    axes,
    repetitions: c.repetitions ?? 1,
    seed: c.seed ?? 1,
    base: {
      topology,
      topologySha256: createHash('sha256').update(topoText).digest('hex'),
      run: { ...run },
    },
  };
  const where: LoadedCampaign['where'] = {};
  for (const k of ['from', 'to']) where[`run.${k}`] = src.linePos(src.offset(['run', k]));
  for (const a of axes) where[a.name] = src.linePos(src.offset(['matrix', a.name], true));
  return { spec, file, topology, run, where };
}

function hasPath(data: unknown, path: readonly PropertyKey[]): boolean {
  let cur: unknown = data;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !(k in (cur as object))) return false;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return true;
}

type P<T> = { ok: true; value: T } | { ok: false; message: string };

function linkParam(param: LinkParam, v: AxisValue): P<Partial<DirParams>> {
  const s = str(v);
  switch (param) {
    case 'rate': {
      const r = parseRate(s);
      return r.ok ? { ok: true, value: { rateMbps: r.value } } : r;
    }
    case 'delay': {
      const r = parseTime(s);
      return r.ok ? { ok: true, value: { delayMs: r.value } } : r;
    }
    case 'jitter': {
      const r = parseTime(s);
      return r.ok ? { ok: true, value: { jitterMs: r.value } } : r;
    }
    case 'loss': {
      const r = parsePercent(s, 'loss');
      return r.ok ? { ok: true, value: { lossPct: r.value } } : r;
    }
    case 'queue': {
      const r = parseQueue(s);
      return r.ok ? { ok: true, value: { queue: r.value } } : r;
    }
  }
}

/**
 * The model and run of one cell: link parameters changed (both directions), knobs set on every node
 * with a stack, the run's stack. The model gets `labName` so runs never clash.
 */
export function prepareRun(
  base: LabModel,
  campaign: Pick<LoadedCampaign, 'run'>,
  assignments: Record<string, AxisValue>,
  labName: string,
): { model: LabModel; spec: RunSpec; knobs: Record<string, Record<string, string | number>> } {
  const model: LabModel = structuredClone(base);
  model.name = labName;
  let stack: RunStack = campaign.run.stack;
  let reverse = campaign.run.reverse === true;
  const knobs: Record<string, Record<string, string | number>> = {};
  for (const [name, value] of Object.entries(assignments)) {
    if (name === 'stack') stack = value as RunStack;
    else if (name === 'reverse') reverse = value === true;
    else if (name.startsWith('knobs.')) {
      const knob = name.slice('knobs.'.length);
      for (const n of model.nodes) {
        if (n.stack === 'none' || n.kind !== 'host') continue;
        const r = checkKnob(n.stack, knob, typeof value === 'boolean' ? Number(value) : value);
        if (!r.ok)
          throw new TopologyError([{ file: model.file, line: 1, col: 1, message: `${name}: ${r.message}` }]);
        n.knobs = { ...n.knobs, [r.name]: r.value };
        knobs[n.name] = { ...(knobs[n.name] ?? {}), [r.name]: r.value };
      }
    } else if (name.startsWith('links.')) {
      const rest = name.slice('links.'.length);
      const dot = rest.lastIndexOf('.');
      const id = rest.slice(0, dot);
      const param = rest.slice(dot + 1) as LinkParam;
      const link: LinkModel | undefined = model.links.find((l) => l.id === id);
      if (!link)
        throw new TopologyError([
          {
            file: model.file,
            line: 1,
            col: 1,
            message: `matrix axis ${name}: no link "${id}"${didYouMean(
              id,
              model.links.map((l) => l.id),
            )} (links: ${model.links.map((l) => l.id).join(', ')})`,
          },
        ]);
      const r = linkParam(param, value);
      if (!r.ok)
        throw new TopologyError([{ file: model.file, line: 1, col: 1, message: `${name}: ${r.message}` }]);
      for (const d of ['ab', 'ba'] as const) {
        const next: DirParams = { ...link[d], ...r.value };
        if (param === 'queue') next.queue = r.value.queue as DirParams['queue'];
        link[d] = next;
      }
      link.needsNetem = needsNetem(link.ab) || needsNetem(link.ba);
    }
  }
  const spec: RunSpec = {
    from: campaign.run.from,
    to: campaign.run.to,
    stack,
    intervalMs: campaign.run.intervalMs,
    events: campaign.run.events ? model.events : [],
  };
  if (reverse) spec.reverse = true;
  if (campaign.run.timeMs !== undefined) spec.timeMs = campaign.run.timeMs;
  if (campaign.run.bytes !== undefined) spec.bytes = campaign.run.bytes;
  return { model, spec, knobs };
}

/** Checks every cell against the topology before anything runs (unknown links, endpoints). */
export function checkCells(base: LabModel, loaded: LoadedCampaign): void {
  const issues: { file: string; line: number; col: number; message: string }[] = [];
  const file = loaded.file;
  const at = (k: string) => loaded.where[k] ?? { line: 1, col: 1 };
  for (const k of ['from', 'to'] as const) {
    const n = loaded.run[k];
    if (!base.nodes.some((x) => x.name === n && x.kind === 'host'))
      issues.push({
        file,
        ...at(`run.${k}`),
        message: `no host "${n}" in ${loaded.topology}${didYouMean(
          n,
          base.nodes.filter((x) => x.kind === 'host').map((x) => x.name),
        )}`,
      });
  }
  for (const a of loaded.spec.axes) {
    if (!a.name.startsWith('links.')) continue;
    const rest = a.name.slice('links.'.length);
    const id = rest.slice(0, rest.lastIndexOf('.'));
    if (!base.links.some((l) => l.id === id))
      issues.push({
        file,
        ...at(a.name),
        message: `matrix axis ${a.name}: no link "${id}" in the topology (links: ${base.links.map((l) => l.id).join(', ')})`,
      });
  }
  if (issues.length > 0) throw new TopologyError(issues);
}
