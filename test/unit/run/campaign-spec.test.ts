/** Campaign files: parsing with positions, the matrix, and each cell's model and run. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { plan } from '../../../lab/campaign/matrix';
import { checkCells, loadCampaign, parseCampaign, prepareRun } from '../../../lab/campaign/spec';
import { loadTopology } from '../../../lab/topology/index';
import { TopologyError } from '../../../lab/topology/model';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const file = join(root, 'examples/campaign.yaml');

function errs(text: string): string[] {
  try {
    parseCampaign(text, file);
  } catch (e) {
    if (e instanceof TopologyError)
      return e
        .format()
        .split('\n')
        .map((l) => l.replace(`${file}:`, ''));
    throw e;
  }
  return [];
}

describe('campaign files', () => {
  it('the 2×2×2 example: axes, repetitions, seed, run, a base pinned to the topology content', async () => {
    const c = loadCampaign(join(root, 'examples/campaign-2x2x2.yaml'));
    expect(c.spec.name).toBe('two-host-2x2x2');
    expect(c.spec.axes).toEqual([
      { name: 'stack', values: ['ts', 'tcp'] },
      { name: 'knobs.net.mptcp.mptcp_scheduler', values: ['default', 'roundrobin'] },
      { name: 'links.a:eth1--b:eth1.rate', values: ['10mbit', '50mbit'] },
    ]);
    expect(c.spec.repetitions).toBe(2);
    expect(c.spec.seed).toBe(42);
    expect(c.run).toEqual({ from: 'a', to: 'b', stack: 'ts', timeMs: 3000, intervalMs: 200, events: true });
    expect(c.topology).toBe(join(root, 'topologies/two-host.yaml'));
    expect((c.spec.base as { topologySha256: string }).topologySha256).toMatch(/^[0-9a-f]{64}$/);
    expect(plan(c.spec.axes, c.spec.repetitions, c.spec.seed)).toHaveLength(16);
    const base = await loadTopology(c.topology);
    expect(() => checkCells(base, c)).not.toThrow();
  });

  it('a cell changes the link both ways (rate, delay → needs the emulator), knobs on every stack node, the stack', async () => {
    const c = loadCampaign(join(root, 'examples/campaign-2x2x2.yaml'));
    const base = await loadTopology(c.topology, { name: 'cx1' });
    const { model, spec } = prepareRun(
      base,
      c,
      {
        stack: 'tcp',
        'knobs.net.mptcp.mptcp_scheduler': 'roundrobin',
        'links.a:eth1--b:eth1.rate': '10mbit',
      },
      'cx1',
    );
    const l = model.links.find((x) => x.id === 'a:eth1--b:eth1')!;
    expect([l.ab.rateMbps, l.ba.rateMbps]).toEqual([10, 10]);
    expect(l.ab.queue).toEqual({ packets: 100 });
    expect(model.nodes.map((n) => n.knobs['net.mptcp.mptcp_scheduler'])).toEqual([
      'roundrobin',
      'roundrobin',
    ]);
    expect(spec).toMatchObject({ from: 'a', to: 'b', stack: 'tcp', timeMs: 3000 });
    // the base model is untouched
    expect(base.links[0]!.ab.rateMbps).toBe(100);
    const d = prepareRun(base, c, { 'links.a:eth1--b:eth1.delay': '10ms' }, 'cx1').model.links[0]!;
    expect([d.ab.delayMs, d.needsNetem]).toEqual([10, true]);
  });

  it('who sends: run.reverse and a reverse axis reach each cell; a bad value names its place', async () => {
    const ok = 'name: c\ntopology: ../topologies/two-host.yaml\n';
    const c = parseCampaign(`${ok}run: { from: a, to: b, time: 1s, reverse: true }\n`, file);
    expect(c.run.reverse).toBe(true);
    const base = await loadTopology(c.topology, { name: 'cr1' });
    expect(prepareRun(base, c, {}, 'cr1').spec.reverse).toBe(true);
    const m = parseCampaign(
      `${ok}run: { from: a, to: b, time: 1s }\nmatrix:\n  reverse: [false, true]\n`,
      file,
    );
    expect(m.spec.axes).toEqual([{ name: 'reverse', values: [false, true] }]);
    expect(prepareRun(base, m, { reverse: true }, 'cr1').spec.reverse).toBe(true);
    expect(prepareRun(base, m, { reverse: false }, 'cr1').spec.reverse).toBeUndefined();
    expect(errs(`${ok}run: { from: a, to: b }\nmatrix:\n  reverse: [yes-please]\n`)).toEqual([
      '5:13: reverse: expected true or false, got "yes-please"',
    ]);
  });

  it('names file:line:col for bad files', async () => {
    const ok = 'name: c\ntopology: ../topologies/two-host.yaml\nrun: { from: a, to: b, time: 1s }\n';
    expect(errs(`${ok}matrix:\n  stakc: [ts]\n`)).toEqual([
      '5:3: unknown matrix axis "stakc": expected stack, reverse, knobs.<knob>, or links.<link id>.<param>',
    ]);
    expect(errs(`${ok}matrix:\n  stack: [ts, quic]\n`)).toEqual([
      '5:15: stack: expected ts, kernel or tcp, got "quic"',
    ]);
    expect(errs(`${ok}matrix:\n  knobs.net.mptcp.mptcp_scheduler: [default, fastest]\n`)[0]).toMatch(
      /^5:46: /,
    );
    expect(errs(`${ok}matrix:\n  links.x.rate: [fast]\n`)[0]).toMatch(/^5:18: /);
    expect(errs(`${ok}matrix:\n  links.x.color: [red]\n`)[0]).toMatch(/^5:3: matrix axis "links.x.color"/);
    expect(errs('name: c\ntopology: nowhere.yaml\nrun: { from: a, to: b }\n')[0]).toMatch(
      /^2:11: no such topology file/,
    );
    expect(errs('name: c\nrun: { from: a, to: b }\n')[0]).toMatch(/missing required key "topology"/);
    expect(errs(`${ok}repetitons: 3\n`)).toEqual(['4:1: unknown key "repetitons"']);
    const c = parseCampaign(`${ok}matrix:\n  links.nope.rate: [1mbit]\n`, file);
    const base = await loadTopology(c.topology);
    expect(() => checkCells(base, c)).toThrow(/5:3: matrix axis links\.nope\.rate: no link "nope"/);
  });
});
