import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/spawn-cli';
import { Lab } from '../../../lab/lab';
import type { RunResult } from '../../../lab/run/result';
import { type DemoFigures, wifiPaths } from '../../../lab/run/demo-figures';
import { pathMbpsBetween } from '../../../lab/run/timeline';
import { loadEvents } from '../../../lab/scenario/load';
import { caps } from '../../helpers/caps';
import { agentEntry, type Bundle, bundle, root } from '../lab/bundle';
import { labName, labScope, leftovers, NOTHING } from '../lab/helpers';

const hasAgent = existsSync(agentEntry);
/** How late (s) an event may take effect: the issue asks 20 ms; a loaded two-core box gets 50. */
// sanity bounds only: event lateness is a figure (docs/run.md), a loaded 2-core box can be late
const LATE = Number(process.env.MPLAB_EVENT_LATE ?? 0.5);
const twoHost = join(root, 'topologies/two-host.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'mplab-runit-'));

function cli(b: Bundle, args: string[], timeoutMs = 60_000) {
  // the test bundle has no emulator.js: run the emulator from source (the demo's links need it)
  return spawnCli(b.cli, args, { timeoutMs, agent: b.agent ?? '', emulatorFromSource: true });
}

describe.skipIf(!caps.netns || !hasAgent)('traffic runs in a lab', () => {
  labScope();
  let b: Bundle;
  let lab: Lab;
  beforeAll(async () => {
    b = await bundle();
    process.env.MPLAB_AGENT = b.agent;
    lab = await Lab.up(twoHost, { name: labName('r') });
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
    b?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('our stack over two-host: integrity ok, both paths carry data, the JSON has its fields', async () => {
    const r = await lab.run({ from: 'a', to: 'b', bytes: 30_000_000, stack: 'ts', intervalMs: 200 });
    expect(r.integrity).toBe('ok');
    expect(r.bytes).toBe(30_000_000);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.sim).toBe(false);
    expect(r.goodputMbps).toBeGreaterThan(0);
    expect(r.seconds).toBeGreaterThan(0);
    const carrying = r.subflows.filter((s) => s.bytes > 1_000_000);
    expect(new Set(carrying.map((s) => s.local.split(':')[0]))).toEqual(new Set(['10.0.1.1', '10.0.2.1']));
    for (const s of r.subflows)
      expect(s).toEqual({
        pathIndex: expect.any(Number),
        local: expect.any(String),
        remote: expect.any(String),
        bytes: expect.any(Number),
      });
    expect(r.timeline.length).toBeGreaterThan(1);
    for (const p of r.timeline)
      expect(p).toMatchObject({
        t: expect.any(Number),
        total: expect.any(Number),
        subflows: expect.any(Array),
      });
    expect(r.events).toEqual([]);
    expect(r.knobs?.a?.['net.mptcp.mptcp_enabled']).toBe(1);
    expect(r.versions?.mplab).toBeTruthy();
  }, 60_000);

  it('events fire on time and show in the timeline: a link down stops its subflow within a second', async () => {
    const file = join(tmp, 'ev.yaml');
    writeFileSync(
      file,
      '- at: 1s\n  link: a:eth1\n  down: true\n- at: 2500ms\n  link: a:eth2\n  set: { rate: 20mbit }\n',
    );
    const events = loadEvents(file, lab.model);
    let r: RunResult;
    try {
      r = await lab.run({ from: 'a', to: 'b', timeMs: 4000, stack: 'ts', intervalMs: 100, events });
    } finally {
      // the lab's state follows the events; put the links back for the next tests whatever happens
      await lab.link('a:eth1', { up: true });
      await lab.link('a:eth2', { rateMbps: 100 });
    }
    expect(r.integrity).toBe('ok');
    expect(r.events.map((e) => e.what)).toEqual(['link a:eth1 down', 'link a:eth2 rate 20 Mbit/s']);
    const down = r.events[0]!;
    expect(down.at).toBe(1);
    expect(down.t - down.at!).toBeGreaterThanOrEqual(0);
    // t is when the change had taken effect (the ip batch answered): 2–5 ms on an idle machine;
    // the bound leaves room for a CI box running other suites on the same two cores
    expect(down.t - down.at!).toBeLessThan(LATE);
    expect(r.events[1]!.t - r.events[1]!.at!).toBeLessThan(1);
    const eth1 = r.subflows.filter(
      (s) => s.local.startsWith('10.0.1.1:') && s.remote.startsWith('10.0.1.2:'),
    );
    const pi = eth1[0]!.pathIndex;
    // carrying data (the rates are bench/'s figures; a loaded machine moves less)
    expect(pathMbpsBetween(r.timeline, pi, 0.3, 1)).toBeGreaterThan(0.5);
    expect(pathMbpsBetween(r.timeline, pi, 2, 4)).toBe(0);
    const eth2 = r.subflows.find((s) => s.local.startsWith('10.0.2.1:') && s.remote.startsWith('10.0.2.2:'))!;
    expect(pathMbpsBetween(r.timeline, eth2.pathIndex, 1.5, 2.5)).toBeGreaterThan(0.5);
    expect(pathMbpsBetween(r.timeline, eth2.pathIndex, 3, 4)).toBeLessThan(21);
  }, 60_000);

  it.skipIf(!caps.kernelMptcp)(
    '--stack kernel and --stack tcp through the kernels of the namespaces',
    async () => {
      const k = await lab.run({ from: 'a', to: 'b', bytes: 10_000_000, stack: 'kernel', intervalMs: 100 });
      expect(k.integrity).toBe('ok');
      expect(k.bytes).toBe(10_000_000);
      expect(k.subflows.length).toBeGreaterThanOrEqual(1);
      expect(k.subflows[0]!.bytes).toBeGreaterThan(1_000_000);
      const t = await lab.run({ from: 'a', to: 'b', timeMs: 1500, stack: 'tcp', intervalMs: 100 });
      expect(t.integrity).toBe('ok');
      expect(t.subflows).toHaveLength(1);
      // one 100 Mbit/s path
      expect(t.goodputMbps).toBeGreaterThan(0.5);
      expect(t.goodputMbps).toBeLessThan(101);
    },
    60_000,
  );

  let demo: { result: RunResult; figures: DemoFigures; who: string } | undefined;
  // WiFi's subflows: the client's WiFi address at one end (a re-joined subflow has a new path index)
  const onPaths = (res: RunResult, paths: Set<number>, t0: number, t1: number) =>
    [...paths].reduce((a, pi) => a + pathMbpsBetween(res.timeline, pi, t0, t1), 0);
  const wifiOf = (res: RunResult) => wifiPaths(res, '10.0.1.1');
  const otherOf = (res: RunResult) =>
    new Set(res.subflows.map((s) => s.pathIndex).filter((pi) => !wifiOf(res).has(pi)));
  it('the live-CD demo (scaled: 10 s, WiFi down 3–6 s): integrity ok, WiFi silent while down, SVG plot, lab gone', async () => {
    const name = labName('d');
    const plot = join(tmp, 'demo.svg');
    const { done } = cli(
      b,
      [
        'demo',
        '--duration',
        '10',
        '--down-at',
        '3',
        '--up-at',
        '6',
        '--json',
        '--plot',
        plot,
        '--name',
        name,
      ],
      120_000,
    );
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    demo = JSON.parse(r.stdout) as { result: RunResult; figures: DemoFigures; who: string };
    const res = demo.result;
    expect(res.integrity).toBe('ok');
    // as it happened: the client opened the connection, the server sent on it
    expect(res.reverse).toBe(true);
    expect(demo.who).toBe(
      'client opened the connection and received (our stack); server accepted it and sent (our stack)',
    );
    expect(res.events.map((e) => e.what)).toEqual(['link client:wifi down', 'link client:wifi up']);
    for (const e of res.events) expect(e.t - e.at!).toBeLessThan(LATE);
    // WiFi carries data before it goes (a sanity bound: the rates are the bench's and the lab
    // demo test's business)
    expect(onPaths(res, wifiOf(res), 0.6, 3)).toBeGreaterThan(0.5);
    // within a second of the outage: nothing on WiFi until it is back; 3G carries on
    expect(onPaths(res, wifiOf(res), 4, 6)).toBe(0);
    expect(onPaths(res, otherOf(res), 4, 6)).toBeGreaterThan(1);
    const svg = readFileSync(plot, 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('link client:wifi down');
    expect(leftovers(name)).toEqual(NOTHING);
  }, 120_000);

  it('the demo: WiFi carries data again after it is back', () => {
    expect(demo).toBeDefined();
    expect(onPaths(demo!.result, wifiOf(demo!.result), 7, 10)).toBeGreaterThan(1);
    expect(demo!.figures.wifiBackSeconds).toBeDefined();
  });

  it('Ctrl-C during the demo stops it and tears the lab down', async () => {
    const name = labName('i');
    const { child, done, out } = cli(
      b,
      ['demo', '--duration', '30', '--plot', join(tmp, 'i.svg'), '--name', name],
      60_000,
    );
    const t0 = Date.now();
    while (!out().includes('downloading') && Date.now() - t0 < 30_000)
      await new Promise((r) => setTimeout(r, 50));
    expect(out()).toContain('downloading');
    await new Promise((r) => setTimeout(r, 1500));
    expect(existsSync(`/run/mplab/${name}`)).toBe(true);
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('interrupted');
    expect(leftovers(name)).toEqual(NOTHING);
  }, 60_000);
});
