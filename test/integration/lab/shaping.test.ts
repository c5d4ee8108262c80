/**
 * The tc lines the lab generates, fed to tc itself in a throwaway network namespace: tc's parser
 * must accept every one. Where the kernel lacks sch_netem, the only error allowed is the kernel's
 * "unknown qdisc kind" for netem (the parser accepted the line); where it has it, all must apply.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tcLines } from '../../../lab/links/shaping';
import type { DirParams } from '../../../lab/topology/model';
import { caps } from '../../helpers/caps';

const cases: DirParams[] = [
  { rateMbps: 20 },
  { rateMbps: 0.5, queue: { packets: 10 } },
  { rateMbps: 1000, queue: { bytes: 64000 } },
  { rateMbps: 2, queue: { ms: 200 } },
  { delayMs: 10 },
  { delayMs: 10, jitterMs: 2, lossPct: 1 },
  { rateMbps: 20, delayMs: 10, jitterMs: 2, lossPct: 0.5 },
  { rateMbps: 5, burstLoss: { p: 1, r: 20, lossBad: 90, lossGood: 0 } },
  { delayMs: 5, reorderPct: 5, duplicatePct: 1 },
];

describe.skipIf(!caps.root)('tc accepts the generated lines', () => {
  it.each(cases.map((c) => [JSON.stringify(c), c] as const))('%s', (_, d) => {
    const lines = tcLines('lo', d, 1500, true);
    const r = spawnSync('unshare', ['-n', 'tc', '-batch', '-'], {
      input: `${lines.join('\n')}\n`,
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      expect(r.stderr).toMatch(/Specified qdisc kind is unknown/);
      expect(r.stderr).not.toMatch(/Usage|What is|not possible|Illegal/);
      // the failing line is the netem one
      expect(lines[Number(/Command failed -:(\d+)/.exec(r.stderr)?.[1]) - 1]).toMatch(/ netem /);
    }
  });
});
