/** Scenario events: the events-file loader (file:line:col errors) and the scheduler's timing. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeEvent } from '../../../lab/scenario/describe';
import { parseEvents } from '../../../lab/scenario/load';
import { ScenarioScheduler } from '../../../lab/scenario/scheduler';
import { loadTopology } from '../../../lab/topology/index';
import type { LabModel, ScenarioEvent } from '../../../lab/topology/model';
import { TopologyError } from '../../../lab/topology/model';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let livecd: LabModel;
beforeAll(async () => {
  livecd = await loadTopology(join(root, 'topologies/ietf-livecd.yaml'));
});

function errors(text: string): string[] {
  try {
    parseEvents(text, 'ev.yaml', livecd);
  } catch (e) {
    if (e instanceof TopologyError) return e.format().split('\n');
    throw e;
  }
  return [];
}

describe('events file', () => {
  it('a list or an events: key, same syntax as the topology, resolved and sorted by time', () => {
    const text = [
      '- at: 20s',
      '  link: client:wifi',
      '  up: true',
      '- at: 10s',
      '  link: wifi',
      '  down: true',
      '- at: 12s',
      '  link: client:3g',
      '  set: { rate: 1mbit, delay: 100ms }',
      '  dir: out',
      '- at: 15s',
      '  sysctl: { node: all, key: net.mptcp.mptcp_scheduler, value: roundrobin }',
    ].join('\n');
    const evs = parseEvents(text, 'ev.yaml', livecd);
    expect(evs.map(describeEvent)).toEqual([
      'link wifi down',
      'link client:3g rate 1 Mbit/s, delay 100 ms (a→b)',
      'sysctl all net.mptcp.mptcp_scheduler=roundrobin',
      'link client:wifi up',
    ]);
    expect(evs[2]).toMatchObject({ action: 'sysctl', nodes: ['client', 'server'] });
    expect(parseEvents(`events:\n${text.replace(/^/gm, '  ')}`, 'ev.yaml', livecd)).toEqual(evs);
  });

  it('names file:line:col for each problem', () => {
    expect(errors('- at: 10s\n  link: client:wlan\n  down: true\n')).toEqual([
      'ev.yaml:2:9: unknown link "client:wlan"; did you mean "client:wifi"?',
    ]);
    expect(errors('- at: 10s\n  link: wifi\n  down: true\n  up: true\n')[0]).toMatch(
      /^ev\.yaml:4:3: an event does one thing/,
    );
    expect(errors('- at: soon\n  link: wifi\n  down: true\n')[0]).toMatch(/^ev\.yaml:1:7: /);
    expect(errors('- at: 1s\n  link: wifi\n  dwon: true\n')[0]).toMatch(/^ev\.yaml:3:3: unknown key "dwon"/);
    expect(errors('- at: 1s\n  sysctl: { node: client, key: net.mptcp.mptcp_bogus, value: 1 }\n')[0]).toMatch(
      /^ev\.yaml:2:\d+: /,
    );
    expect(errors('events:\n  - [1, 2\n')[0]).toMatch(/^ev\.yaml:\d+:\d+: YAML syntax/);
    expect(errors('other: 1\n')).toEqual([
      'ev.yaml:1:1: unknown key "other"; an events file holds a list, or "events:"',
    ]);
  });
});

describe('ScenarioScheduler', () => {
  it('applies each event at its absolute deadline, in order, recording scheduled and actual times', async () => {
    const applied: [string, number][] = [];
    const events: ScenarioEvent[] = [
      { at: 120, action: 'link-up', link: 'wifi', target: 'client:wifi' },
      { at: 40, action: 'link-down', link: 'wifi', target: 'client:wifi' },
      {
        at: 80,
        action: 'sysctl',
        target: 'all',
        nodes: ['client'],
        key: 'net.mptcp.mptcp_ndiffports',
        value: 2,
      },
    ];
    const t0 = performance.now();
    const s = new ScenarioScheduler(events, async (e) => {
      applied.push([e.action, performance.now() - t0]);
      // a slow event must not delay the next one's deadline
      if (e.action === 'link-down') await new Promise((r) => setTimeout(r, 25));
    });
    s.start(t0);
    await s.finished();
    expect(applied.map((a) => a[0])).toEqual(['link-down', 'sysctl', 'link-up']);
    for (const [i, at] of [40, 80, 120].entries()) {
      expect(applied[i]![1]).toBeGreaterThanOrEqual(at - 0.5);
      expect(applied[i]![1]).toBeLessThan(at + 20);
    }
    expect(s.applied.map((e) => e.at)).toEqual([0.04, 0.08, 0.12]);
    for (const e of s.applied) expect(e.t).toBeGreaterThanOrEqual(e.at! - 0.001);
  });

  it('records a failing event and goes on; stop() cancels what has not fired', async () => {
    const events: ScenarioEvent[] = [
      { at: 5, action: 'link-down', link: 'wifi', target: 'client:wifi' },
      { at: 10, action: 'link-up', link: 'wifi', target: 'client:wifi' },
      { at: 5000, action: 'link-down', link: 'wifi', target: 'client:wifi' },
    ];
    let n = 0;
    const s = new ScenarioScheduler(events, async () => {
      if (n++ === 0) throw new Error('boom');
    });
    s.start(performance.now());
    await new Promise((r) => setTimeout(r, 60));
    await s.stop();
    expect(s.errors).toEqual(['link client:wifi down: boom']);
    expect(s.applied.map((e) => e.what)).toEqual(['link client:wifi up']);
    expect(n).toBe(2);
  });
});
