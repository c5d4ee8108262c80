/**
 * `--sim` refuses what it cannot model (exit 2, a reason and what to use instead) before anything
 * runs, and a two-host lab's cross pairs (10.0.2.1 → 10.0.1.2) carry nothing, as in the lab, where
 * the source rules send them to an unreachable route.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf, UsageError } from '../../../lab/errors';
import { simRefusals } from '../../../lab/sim/refuse';
import { simulateRun } from '../../../lab/sim/run';
import { loadTopology } from '../../../lab/topology/index';
import type { LabModel } from '../../../lab/topology/model';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let twoHost: LabModel;
beforeAll(async () => {
  twoHost = await loadTopology(join(root, 'topologies/two-host.yaml'));
});

function refusal(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect(exitCodeOf(e)).toBe(2);
    return e as UsageError;
  }
  throw new Error('expected a refusal');
}

describe('--sim refusals', () => {
  it('--stack kernel: exit 2, says why and what to use instead', () => {
    const e = refusal(() => simulateRun(twoHost, { from: 'a', to: 'b', timeMs: 1000, stack: 'kernel' }));
    expect(e.message).toMatch(/kernel's MPTCP/);
    expect(e.message).toMatch(/in a lab/);
    expect(e.message).toMatch(/--stack ts/);
  });

  it("--stack tcp (the kernel's plain TCP in a lab): exit 2", () => {
    const e = refusal(() => simulateRun(twoHost, { from: 'a', to: 'b', timeMs: 1000, stack: 'tcp' }));
    expect(e.message).toMatch(/plain TCP/);
    expect(e.message).toMatch(/mptcp_enabled: 0/);
  });

  it('a node with stack: kernel or a custom image is refused, every reason listed', () => {
    const m: LabModel = structuredClone(twoHost);
    m.nodes[1]!.stack = 'kernel';
    m.nodes[0]!.image = 'my/image:1';
    const r = simRefusals(m, 'ts');
    expect(r).toHaveLength(2);
    expect(r.join('\n')).toMatch(/node 'b' runs the kernel's MPTCP/);
    expect(r.join('\n')).toMatch(/node 'a' runs the container image 'my\/image:1'/);
    const e = refusal(() => simulateRun(m, { from: 'a', to: 'b', timeMs: 1000, stack: 'ts' }));
    expect(e.message.split('\n')).toHaveLength(3);
  });

  it('our stack on a plain lab is not refused', () => {
    expect(simRefusals(twoHost, 'ts')).toEqual([]);
  });
});

describe('the lab routing plan in the simulator', () => {
  it('two-host: only the two same-subnet pairs carry data; the cross pairs are refused at once', () => {
    const out = simulateRun(twoHost, { from: 'a', to: 'b', timeMs: 1000, stack: 'ts' }, { seed: 3 });
    expect(out.result.integrity).toBe('ok');
    const carrying = out.result.subflows
      .filter((s) => s.bytes > 0)
      .map((s) => `${s.local.replace(/:\d+$/, '')}>${s.remote.replace(/:\d+$/, '')}`)
      .sort();
    expect(carrying).toEqual(['10.0.1.1>10.0.1.2', '10.0.2.1>10.0.2.2']);
  });
});
