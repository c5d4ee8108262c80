/**
 * Scenario events from a YAML file (`mplab run --events FILE`): the same syntax as a topology's
 * `events:` (the topology's own event schema), either as a list at the top of the file or under an
 * `events:` key. Links and nodes are resolved against the lab's model; every problem names
 * file:line:col, and all are thrown at once as a TopologyError (the CLI turns it into exit 2).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import * as z from 'zod';
import { checkKnob } from '../topology/knobs';
import type { LabModel, LinkModel, NodeModel, ScenarioEvent } from '../topology/model';
import { TopologyError } from '../topology/model';
import { dirParams } from '../topology/plan';
import { Issues, type Path, SourceMap } from '../topology/positions';
import { eventSchema, type RawEvent } from '../topology/schema';
import { didYouMean } from '../topology/suggest';
import { parseTime } from '../topology/units';

const eventsSchema = z.array(eventSchema);

/** Reads and resolves an events file against a lab model. */
export function loadEvents(file: string, model: LabModel): ScenarioEvent[] {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TopologyError([
      {
        file,
        line: 1,
        col: 1,
        message: `cannot read the events file: ${code === 'ENOENT' ? 'no such file' : String(e)}`,
      },
    ]);
  }
  return parseEvents(source, file, model);
}

export function parseEvents(source: string, file: string, model: LabModel): ScenarioEvent[] {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const src = new SourceMap(file, doc, lc);
  const issues = new Issues(src);
  for (const err of doc.errors) {
    const p = src.linePos(err.pos[0]);
    issues.list.push({
      file,
      line: p.line,
      col: p.col,
      message: `YAML syntax: ${err.message.split('\n')[0]}`,
    });
  }
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  const data: unknown = doc.toJS();
  let prefix: Path = [];
  let list: unknown = data;
  if (isMap(doc.contents)) {
    const keys = Object.keys(data as object);
    const extra = keys.filter((k) => k !== 'events');
    if (extra.length > 0) {
      for (const k of extra)
        issues.atKey([k], `unknown key "${k}"; an events file holds a list, or "events:"`);
      throw new TopologyError(issues.sorted());
    }
    prefix = ['events'];
    list = (data as { events?: unknown }).events ?? [];
  } else if (data === null || data === undefined) list = [];
  const parsed = eventsSchema.safeParse(list);
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const path = [...prefix, ...(iss.path as PropertyKey[])];
      if (iss.code === 'unrecognized_keys') {
        for (const k of iss.keys) {
          const known = Object.keys(eventSchema.shape);
          const hint = didYouMean(k, known);
          issues.atKey([...path, k], `unknown key "${k}"${hint || `; expected one of: ${known.join(', ')}`}`);
        }
      } else if (iss.code === 'invalid_type' && iss.path.length === 0) {
        issues.at(path, 'expected a list of events (or "events:" with a list)');
      } else
        issues.at(path, iss.message.startsWith('Invalid') ? `${iss.message.toLowerCase()}` : iss.message);
    }
    throw new TopologyError(issues.sorted());
  }
  const out = planEvents(parsed.data, prefix, issues, model, dirname(resolve(file)));
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  return out;
}

/** Resolves raw events (the topology planner's rules, for a separate file). */
function planEvents(
  raw: RawEvent[],
  prefix: Path,
  issues: Issues,
  model: LabModel,
  fileDir: string,
): ScenarioEvent[] {
  const links: LinkModel[] = model.links;
  const nodes: NodeModel[] = model.nodes;
  const out: ScenarioEvent[] = [];
  const byEndpoint = new Map<string, { link: LinkModel; side: 'a' | 'b' }>();
  const byId = new Map<string, LinkModel>();
  for (const l of links) {
    byId.set(l.id, l);
    byEndpoint.set(`${l.a.node}:${l.a.iface}`, { link: l, side: 'a' });
    byEndpoint.set(`${l.b.node}:${l.b.iface}`, { link: l, side: 'b' });
  }
  raw.forEach((e, i) => {
    const ep: Path = [...prefix, i];
    const at = parseTime(e.at);
    if (!at.ok) return;
    const actions = (['down', 'up', 'set', 'sysctl'] as const).filter((k) => e[k] !== undefined);
    if (actions.length === 0) {
      issues.at(ep, 'an event needs one action: "down: true", "up: true", "set: {…}" or "sysctl: {…}"');
      return;
    }
    if (actions.length > 1) {
      issues.atKey([...ep, actions[1]!], `an event does one thing; this one has ${actions.join(' and ')}`);
      return;
    }
    const action = actions[0]!;
    if (e.dir !== undefined && action !== 'set')
      issues.atKey([...ep, 'dir'], 'dir applies only to "set" events');
    if (action === 'sysctl') {
      const s = e.sysctl!;
      const sp: Path = [...ep, 'sysctl'];
      let targets: NodeModel[];
      if (s.node === 'all') targets = nodes.filter((n) => n.stack !== 'none');
      else {
        const n = nodes.find((x) => x.name === s.node);
        if (!n) {
          issues.at(
            [...sp, 'node'],
            `unknown node "${s.node}"${didYouMean(
              s.node,
              nodes.map((x) => x.name),
            )} (or "all")`,
          );
          return;
        }
        if (n.stack === 'none') {
          issues.at([...sp, 'node'], `node "${n.name}" runs no stack (stack: none)`);
          return;
        }
        targets = [n];
      }
      let key = s.key;
      let value = s.value;
      for (const stack of new Set(targets.map((t) => t.stack))) {
        const r = checkKnob(stack, s.key, s.value);
        if (!r.ok) {
          issues.at([...sp, r.where === 'key' ? 'key' : 'value'], r.message);
          return;
        }
        key = r.name;
        value = r.value;
      }
      out.push({
        at: at.value,
        action: 'sysctl',
        target: s.node,
        nodes: targets.map((t) => t.name),
        key,
        value,
      });
      return;
    }
    if (e.link === undefined) {
      issues.at(ep, `a "${action}" event needs "link:" naming "node:iface" or a link id`);
      return;
    }
    const hit = byEndpoint.get(e.link);
    const link = hit?.link ?? byId.get(e.link);
    if (!link) {
      issues.at(
        [...ep, 'link'],
        `unknown link "${e.link}"${didYouMean(e.link, [...byEndpoint.keys(), ...byId.keys()])}`,
      );
      return;
    }
    if (action === 'down' || action === 'up') {
      out.push({
        at: at.value,
        action: action === 'down' ? 'link-down' : 'link-up',
        link: link.id,
        target: e.link,
      });
      return;
    }
    let dir: 'ab' | 'ba' | 'both' = 'both';
    if (e.dir === 'a->b' || e.dir === 'ab') dir = 'ab';
    else if (e.dir === 'b->a' || e.dir === 'ba') dir = 'ba';
    else if (e.dir === 'out' || e.dir === 'in') {
      if (!hit) {
        issues.at([...ep, 'dir'], `dir: ${e.dir} needs the link named by an endpoint ("node:iface")`);
        return;
      }
      dir = (e.dir === 'out') === (hit.side === 'a') ? 'ab' : 'ba';
    }
    const setObj = e.set!;
    if (Object.keys(setObj).length === 0) {
      issues.at([...ep, 'set'], 'set changes nothing: give at least one parameter');
      return;
    }
    const params = dirParams([{ obj: setObj, path: [...ep, 'set'] }], issues, fileDir, false);
    out.push({ at: at.value, action: 'link-set', link: link.id, target: e.link, dir, params });
  });
  return out
    .map((e, i) => ({ e, i }))
    .sort((x, y) => x.e.at - y.e.at || x.i - y.i)
    .map((x) => x.e);
}
