/** Human-readable text of scenario events, as recorded in a run's `events` and shown on plots. */
import type { DirParams, ScenarioEvent } from '../topology/model';

function fmtNum(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}

/** "rate 5 Mbit/s, delay 10 ms, loss 1%". */
export function describeParams(p: DirParams): string {
  const parts: string[] = [];
  if (p.rateMbps !== undefined) parts.push(`rate ${fmtNum(p.rateMbps)} Mbit/s`);
  if (p.delayMs !== undefined) parts.push(`delay ${fmtNum(p.delayMs)} ms`);
  if (p.jitterMs !== undefined) parts.push(`jitter ${fmtNum(p.jitterMs)} ms`);
  if (p.lossPct !== undefined) parts.push(`loss ${fmtNum(p.lossPct)}%`);
  if (p.burstLoss) parts.push(`burst loss p=${fmtNum(p.burstLoss.p)}% r=${fmtNum(p.burstLoss.r)}%`);
  if (p.reorderPct !== undefined) parts.push(`reorder ${fmtNum(p.reorderPct)}%`);
  if (p.duplicatePct !== undefined) parts.push(`duplicate ${fmtNum(p.duplicatePct)}%`);
  if (p.queue?.packets !== undefined) parts.push(`queue ${p.queue.packets} packets`);
  if (p.queue?.bytes !== undefined) parts.push(`queue ${p.queue.bytes} bytes`);
  if (p.queue?.ms !== undefined) parts.push(`queue ${fmtNum(p.queue.ms)} ms`);
  if (p.trace !== undefined) parts.push(`trace ${p.trace}`);
  return parts.join(', ');
}

export function describeEvent(e: ScenarioEvent): string {
  switch (e.action) {
    case 'link-down':
      return `link ${e.target} down`;
    case 'link-up':
      return `link ${e.target} up`;
    case 'link-set':
      return `link ${e.target} ${describeParams(e.params)}${e.dir === 'both' ? '' : ` (${e.dir === 'ab' ? 'a→b' : 'b→a'})`}`;
    case 'sysctl':
      return `sysctl ${e.target} ${e.key}=${e.value}`;
  }
}
