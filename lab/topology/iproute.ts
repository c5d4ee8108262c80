// The routing plan as iproute2 batch lines, for backends that want them.
//
// In `ip -batch`, a line cannot carry the `-4`/`-6` options ("Object "-6" is unknown"), and
// `rule add from <IPv6>` without `-6` fails ("Invalid source address"). So the lines of each
// family go to their own batch: `ip -4 [-n NS] -batch FILE` and `ip -6 [-n NS] -batch FILE`.
// Defaults are written `0.0.0.0/0` / `::/0` so each line is unambiguous even on its own.
// (Checked against iproute2 and Linux 6.18: every line below applies as written.)

import type { Family, NodeModel, RouteModel, RuleModel } from './model';

function dst(r: RouteModel): string {
  if (r.dst !== 'default') return r.dst;
  return r.family === 4 ? '0.0.0.0/0' : '::/0';
}

/** `route replace …` (no family option; run in the batch of r.family). */
export function routeLine(r: RouteModel, verb: 'add' | 'replace' | 'del' = 'replace'): string {
  const parts = ['route', verb];
  if (r.type === 'unreachable') parts.push('unreachable');
  parts.push(dst(r));
  if (r.nexthops && r.nexthops.length > 0) {
    for (const h of r.nexthops) parts.push('nexthop', 'via', h.via, 'dev', h.dev);
  } else {
    if (r.via !== undefined) parts.push('via', r.via);
    if (r.dev !== undefined) parts.push('dev', r.dev);
  }
  if (r.table !== undefined) parts.push('table', String(r.table));
  if (r.src !== undefined) parts.push('src', r.src);
  if (r.metric !== undefined) parts.push('metric', String(r.metric));
  return parts.join(' ');
}

/** `rule add from … lookup … priority …` (run in the batch of r.family). */
export function ruleLine(r: RuleModel, verb: 'add' | 'del' = 'add'): string {
  return `rule ${verb} from ${r.from} lookup ${r.table} priority ${r.priority}`;
}

/** A node's routes and rules, split by family: run `ip -4 -batch` and `ip -6 -batch` on them. */
export function routingBatches(node: NodeModel): Record<Family, string[]> {
  const out: Record<Family, string[]> = { 4: [], 6: [] };
  for (const r of node.routes) out[r.family].push(routeLine(r));
  for (const r of node.rules) out[r.family].push(ruleLine(r));
  return out;
}
