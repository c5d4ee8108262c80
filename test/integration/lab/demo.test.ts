import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/spawn-cli';
import { type DemoFigures, perSecondGoodput } from '../../../lab/run/demo-figures';
import type { RunResult } from '../../../lab/run/result';
import { caps } from '../../helpers/caps';
import { type Bundle, bundle } from './bundle';
import { labName, labScope, leftovers, NOTHING } from './helpers';

const tmp = mkdtempSync(join(tmpdir(), 'mplab-demoit-'));

interface DemoJson {
  result: RunResult;
  figures: DemoFigures;
  who: string;
  reportText: string[];
  compare?: { result: RunResult; figures: DemoFigures; watcher: string[] };
}

function cli(b: Bundle, args: string[], timeoutMs: number) {
  return spawnCli(b.cli, args, { timeoutMs, agent: b.agent ?? '', emulatorFromSource: true }).done;
}

describe.skipIf(!caps.netns)('the live-CD demo in a lab, the client as connector', () => {
  labScope();
  let b: Bundle;
  beforeAll(async () => {
    b = await bundle();
  }, 120_000);
  afterAll(() => {
    b?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  let demo: DemoJson | undefined;
  it('the client connects, opens 3G and re-joins from WiFi; integrity ok; lab gone', async () => {
    const name = labName('c');
    const r = await cli(b, ['demo', '--json', '--plot', join(tmp, 'demo.svg'), '--name', name], 180_000);
    expect(r.code, r.stderr).toBe(0);
    demo = JSON.parse(r.stdout) as DemoJson;
    const res = demo.result;
    expect(res.integrity).toBe('ok');
    expect(res.reverse).toBe(true);
    expect(demo.who).toBe(
      'client opened the connection and received (our stack); server accepted it and sent (our stack)',
    );
    const client = demo.reportText.find((t) => t.startsWith('node client'))!;
    expect(client).toMatch(/conn \d+\s+mptcp\s+client/);
    // 3G, then WiFi again after it came back
    const joins = Number(/MPJoinSynTx\s+(\d+)/.exec(client)?.[1] ?? 0);
    expect(joins).toBeGreaterThanOrEqual(2);
    expect(demo.figures.wifiBackSeconds).toBeDefined();
    expect(demo.figures.perSecond).toHaveLength(30);
    expect(leftovers(name)).toEqual(NOTHING);
  }, 200_000);

  // Issue 24's bound, seconds 1–9 and 23–29 each >= 75 % of WiFi + 3G's rate (16.5 Mbit/s), is a
  // throughput threshold: on a loaded two-core box the emulator and the agents themselves fall
  // below it (second 1 carried 14.5, 17.0 Mbit/s on the wire with the other core busy); the
  // simulator test (test/unit/mptcp/livecd.test.ts) holds the nominal figure, each anti-HoL rule
  // shown to matter. The lab checks what a head-of-line stall is whatever the load: the
  // application receiving much less than the subflows delivered on the wire in the same second.
  // The margin is 60 %, not 75 %: the wire counts every copy (hole repair sends 3G's late data
  // again on WiFi, ~3.4 MB a run, and subflow retransmissions count too), and at load 5-7 the
  // lowest second measured 0.74, 0.79, 0.82 of the wire in three runs (0.92-0.97 unloaded); the
  // stall this guards against held the application to 8.8 of 22.7 Mbit/s (0.39).
  const APP_OF_WIRE = 0.6;
  it('no head-of-line stall while both paths are up: seconds 1–9 and 23–29, application >= 60 % of the wire', () => {
    expect(demo).toBeDefined();
    const tl = demo!.result.timeline;
    const wire = perSecondGoodput(
      tl.map((p) => ({ ...p, total: p.subflows.reduce((a, x) => a + x.mbps, 0) })),
      30,
    );
    const app = demo!.figures.perSecond;
    // whole second k is [k, k+1): 1 s … 9 s and 23 s … 29 s
    const seconds = [1, 2, 3, 4, 5, 6, 7, 8, 23, 24, 25, 26, 27, 28];
    const rows = seconds.map((k) => ({ second: k, app: app[k] ?? 0, wire: wire[k] ?? 0 }));
    const low = rows.filter((x) => x.app < APP_OF_WIRE * x.wire);
    expect(low, `per second (Mbit/s): ${JSON.stringify(rows)}`).toEqual([]);
  });

  it.skipIf(!caps.kernelMptcp || !caps.python3)(
    '--compare kernel: both runs, one table, one plot with a panel each; the lab of each is gone',
    async () => {
      const name = labName('k');
      const plot = join(tmp, 'cmp.svg');
      const r = await cli(
        b,
        [
          'demo',
          '--compare',
          'kernel',
          '--duration',
          '12',
          '--down-at',
          '4',
          '--up-at',
          '8',
          '--json',
          '--plot',
          plot,
          '--name',
          name,
        ],
        240_000,
      );
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as DemoJson;
      expect(out.result.integrity).toBe('ok');
      expect(out.compare).toBeDefined();
      const k = out.compare!;
      expect(k.result.integrity).toBe('ok');
      expect(k.result.stack).toBe('kernel');
      expect(k.result.ends?.map((e) => `${e.node}:${e.role}:${e.stack}:${e.opened}`)).toEqual([
        'client:receiver:kernel:true',
        'server:sender:kernel:false',
      ]);
      for (const f of [out.figures, k.figures]) {
        expect(f.perSecond).toHaveLength(12);
        expect(f.goodputMbps).toBeGreaterThan(0);
        expect(typeof f.gapSeconds).toBe('number');
        expect(typeof f.stallSeconds).toBe('number');
      }
      // the watcher saw WiFi go and come back
      expect(k.watcher.map((w) => w.split(':')[0])).toEqual(['wifi lost', 'wifi back']);
      const svg = readFileSync(plot, 'utf8');
      expect(svg.match(/<svg /g)).toHaveLength(3);
      expect(svg).toContain("the same on the kernel's MPTCP");
      expect(leftovers(name)).toEqual(NOTHING);
      expect(leftovers(`${name}-k`)).toEqual(NOTHING);
    },
    260_000,
  );
});
