/**
 * `--reverse` in the simulator: <from> opens the connection and <to> sends on it (iperf3 -R), for
 * our stack and plain TCP; integrity checked, both paths carry data, the connecting node's report
 * shows its connection as the client, the result says who opened it. Also which stack each end
 * of a run uses (stacks.ts) and the line that says so.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeEnds, flowOf } from '../../../lab/run/result';
import { chooseStacks, stackFor, stacksOf } from '../../../lab/run/stacks';
import { simulateRun } from '../../../lab/sim/run';
import { loadTopology } from '../../../lab/topology/index';
import type { LabModel, NodeModel } from '../../../lab/topology/model';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let twoHost: LabModel;
beforeAll(async () => {
  twoHost = await loadTopology(join(root, 'topologies/two-host.yaml'));
});

const connLine = (text: string) => text.split('\n').find((l) => /^conn \d+/.test(l)) ?? '';

describe('run --reverse in the simulator', () => {
  it('our stack: a connects, b sends; both paths carry data; a is the client', () => {
    const out = simulateRun(
      twoHost,
      { from: 'a', to: 'b', stack: 'ts', bytes: 4_000_000, reverse: true, intervalMs: 100 },
      { seed: 3 },
    );
    const r = out.result;
    expect(r.integrity).toBe('ok');
    expect(r.bytes).toBe(4_000_000);
    expect(r.reverse).toBe(true);
    expect(flowOf(r)).toEqual({ sender: 'b', receiver: 'a' });
    expect(r.ends).toEqual([
      { node: 'a', role: 'receiver', opened: true, stack: 'ts' },
      { node: 'b', role: 'sender', opened: false, stack: 'ts' },
    ]);
    // the timeline's subflows are named from the sender's side: b's addresses are local
    const carrying = r.subflows.filter((s) => s.bytes > 200_000);
    expect(new Set(carrying.map((s) => s.local.split(':')[0]))).toEqual(new Set(['10.0.1.2', '10.0.2.2']));
    // the first subflow goes to b's first address on port 5001, from a's address on that subnet
    expect(r.subflows.find((s) => s.pathIndex === 1)?.local).toBe('10.0.1.2:5001');
    const rep = Object.fromEntries(out.reports.map((x) => [x.node, x.text]));
    expect(connLine(rep.a!)).toMatch(/ client /);
    expect(connLine(rep.b!)).toMatch(/ server /);
    expect(describeEnds(r)).toBe(
      'a opened the connection and received (our stack); b accepted it and sent (our stack)',
    );
  });

  it('the same run forward: a is the client and the sender', () => {
    const out = simulateRun(twoHost, { from: 'a', to: 'b', stack: 'ts', bytes: 2_000_000 }, { seed: 3 });
    expect(out.result.integrity).toBe('ok');
    expect(out.result.reverse).toBeUndefined();
    expect(flowOf(out.result)).toEqual({ sender: 'a', receiver: 'b' });
    const rep = Object.fromEntries(out.reports.map((x) => [x.node, x.text]));
    expect(connLine(rep.a!)).toMatch(/ client /);
  });

  it('our stack without MPTCP reversed, timed: integrity ok, one path', () => {
    const off = { 'net.mptcp.mptcp_enabled': 0 };
    const r = simulateRun(
      twoHost,
      { from: 'a', to: 'b', stack: 'ts', timeMs: 1000, reverse: true },
      { seed: 1, knobs: { a: off, b: off } },
    ).result;
    expect(r.integrity).toBe('ok');
    expect(r.bytes).toBeGreaterThan(0);
    expect(new Set(r.subflows.filter((s) => s.bytes > 0).map((s) => s.pathIndex)).size).toBe(1);
    expect(r.ends?.map((e) => e.role)).toEqual(['receiver', 'sender']);
  });

  it('is deterministic for a seed', () => {
    const spec = { from: 'a', to: 'b', stack: 'ts' as const, bytes: 1_000_000, reverse: true };
    const x = simulateRun(twoHost, spec, { seed: 9 }).result;
    const y = simulateRun(twoHost, spec, { seed: 9 }).result;
    expect({ ...x, startedAt: undefined }).toEqual({ ...y, startedAt: undefined });
  });
});

function node(name: string, stack: NodeModel['stack'], phy: NodeModel['phy'] = 'udp'): NodeModel {
  return { name, kind: 'host', stack, phy } as NodeModel;
}

describe('which stack each end runs', () => {
  it('every node its own; --stack only where the node can run it', () => {
    expect(stacksOf(node('a', 'ts'))).toEqual(['ts', 'kernel', 'tcp']);
    expect(stacksOf(node('a', 'ts', 'tun'))).toEqual(['ts']);
    expect(stacksOf(node('b', 'kernel'))).toEqual(['kernel', 'tcp']);
    expect(stackFor(node('b', 'kernel'), 'ts')).toBe('kernel');
    expect(stackFor(node('b', 'kernel'), 'tcp')).toBe('tcp');
    expect(stackFor(node('a', 'ts', 'tun'), 'kernel')).toBe('ts');
    expect(stackFor(node('a', 'ts'), 'kernel')).toBe('kernel');
  });

  it('a ts node and a kernel node: mixed, with a note naming both', () => {
    const s = chooseStacks(node('a', 'ts', 'tun'), node('b', 'kernel'), 'ts');
    expect([s.from, s.to]).toEqual(['ts', 'kernel']);
    expect(s.notes.join('\n')).toContain(
      "mixed stacks: 'a' ran our stack (its agent), 'b' ran the kernel's MPTCP",
    );
    const t = chooseStacks(node('a', 'ts', 'tun'), node('b', 'kernel'), 'tcp');
    expect([t.from, t.to]).toEqual(['ts', 'tcp']);
    expect(t.notes.join('\n')).toContain("node 'a' ran our stack (its agent), not --stack tcp");
    const same = chooseStacks(node('a', 'ts'), node('b', 'ts'), 'ts');
    expect(same).toEqual({ from: 'ts', to: 'ts', notes: [] });
  });
});
