// VM nodes in topology files: backend vm from the node, the defaults or --backend; the vm: block
// resolved (memory in MiB, files next to the topology) and every bad value reported at its key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTopology, TopologyError } from '../../../lab/topology';
import type { LabModel } from '../../../lab/topology';

const dir = mkdtempSync(join(tmpdir(), 'mplab-vm-topo-'));
writeFileSync(join(dir, 'bzImage'), 'kernel');
writeFileSync(join(dir, 'initrd.img'), 'initrd');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const F = join(dir, 'lab.yaml');
const load = (lines: string[], overrides = {}): LabModel => parseTopology(lines.join('\n'), F, overrides);
function fails(lines: string[], overrides = {}): string[] {
  try {
    load(lines, overrides);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).issues.map((i) => `${i.line}:${i.col} ${i.message}`);
  }
  throw new Error('loaded');
}
const links = ['links:', '  - endpoints: [a:eth1, b:eth1]'];

describe('backend: vm', () => {
  it('a node, the defaults or --backend make VM nodes with default settings', () => {
    const m = load(['name: t', 'nodes:', '  a: { backend: vm }', '  b: {}', ...links]);
    expect(m.nodes.map((n) => n.backend)).toEqual(['vm', 'netns']);
    expect(m.nodes[0]!.vm).toEqual({ memoryMib: 512, cpus: 1, accel: 'auto' });
    expect(m.nodes[1]!.vm).toBeUndefined();
    const d = load([
      'name: t',
      'defaults:',
      '  node: { backend: vm }',
      'nodes:',
      '  a: {}',
      '  b: {}',
      ...links,
    ]);
    expect(d.nodes.every((n) => n.backend === 'vm')).toBe(true);
    const o = load(['name: t', 'nodes:', '  a: {}', '  b: {}', ...links], { backend: 'vm' });
    expect(o.nodes.map((n) => n.backend)).toEqual(['vm', 'vm']);
  });
  it('vm settings: node over defaults, memory units, paths relative to the file', () => {
    const m = load([
      'name: t',
      'defaults:',
      '  node: { backend: vm, vm: { memory: 1g, cpus: 2, accel: tcg } }',
      'nodes:',
      '  a: { vm: { memory: 768mb, kernel: bzImage, initrd: ./initrd.img } }',
      '  b: {}',
      ...links,
    ]);
    expect(m.nodes[0]!.vm).toEqual({
      memoryMib: 768,
      cpus: 2,
      accel: 'tcg',
      kernel: join(dir, 'bzImage'),
      initrd: join(dir, 'initrd.img'),
    });
    expect(m.nodes[1]!.vm).toEqual({ memoryMib: 1024, cpus: 2, accel: 'tcg' });
  });
  it('bad values are reported where they are', () => {
    const errs = fails([
      'name: t',
      'nodes:',
      '  a: { backend: vm, vm: { memory: 64mb, kernel: nope/bzImage } }',
      '  b: { vm: { memory: 1g } }',
      '  c: { backend: vm, vm: { memory: lots } }',
      'links:',
      '  - endpoints: [a:eth1, b:eth1]',
      '  - endpoints: [a:eth2, c:eth1]',
    ]);
    expect(errs).toEqual([
      expect.stringMatching(
        /^3:\d+ memory 64mb: 64 MiB is below what the live image needs to boot \(256 MiB/,
      ),
      expect.stringMatching(
        new RegExp(`^3:\\d+ kernel nope/bzImage: no such file \\(${dir}/nope/bzImage\\)`),
      ),
      expect.stringMatching(
        /^4:\d+ vm settings apply only to VM nodes \(backend: vm\); this node runs on netns/,
      ),
      expect.stringMatching(/^5:\d+ memory "lots": expected a size like "512mb" or "1g"/),
    ]);
    expect(fails(['name: t', 'nodes:', '  a: { backend: vm, vm: { cpus: 0 } }'])[0]).toMatch(
      /^3:\d+ a VM needs at least 1 cpu/,
    );
    expect(fails(['name: t', 'nodes:', '  a: { backend: vm, vm: { accel: hvf } }'])[0]).toMatch(/^3:\d+ /);
  });
});
