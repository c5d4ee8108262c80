/**
 * The bench helpers against real namespaces: two tbf-shaped paths, a kernel MPTCP transfer with the
 * second path taken down and back mid-way, the receiving interfaces' counters sampled alongside.
 * Checks what the bench modules rely on: the shaping holds, both paths carry data, a path that is
 * down carries none and carries data again once up, and close() leaves no namespace behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goodputMbps, longestGap, timeToReach } from '../../../bench/lib/series';
import { now, Procs, twoHosts } from '../../../bench/lib/topo';
import {
  type Agent,
  bundleAgent,
  kernelMptcp,
  kernelTransfer,
  oursTransfer,
  startAgent,
  startRxSampler,
  stopAgent,
} from '../../../bench/lib/transfer';
import { caps } from '../../helpers/caps';

describe.skipIf(!caps.netns || !caps.kernelMptcp || !caps.python3)(
  'bench helpers (namespaces, kernel MPTCP)',
  () => {
    it('shapes two paths, samples a transfer and sees a path go down and come back', async () => {
      const h = await twoHosts(237, [
        { via: 'veth', rateMbps: 20 },
        { via: 'veth', rateMbps: 20 },
      ]);
      const procs = new Procs();
      try {
        kernelMptcp(
          h.nsA,
          h.nsB,
          h.paths.map((p) => p.a),
          h.paths.map((p) => p.ifA),
        );
        const rx = await startRxSampler(
          procs,
          h.nsB,
          h.paths.map((p) => p.ifB),
          10,
        );
        const r = await kernelTransfer(procs, h.nsA, h.nsB, h.paths[0]!.b, {
          seconds: 4.5,
          port: 5555,
          intervalMs: 10,
          events: [
            { at: 1.5, name: 'down', run: () => h.setPath(1, false) },
            { at: 2.5, name: 'up', run: () => h.setPath(1, true) },
          ],
        });
        const [p1, p2] = await rx.stop();
        const down = r.events.down!;
        const up = r.events.up!;
        expect(up - down).toBeGreaterThan(0.9);
        // before the outage both paths carry data, each within its tbf rate (plus headers)
        const before = [p1!, p2!].map((s) => goodputMbps(s, r.t0 + 0.7, down));
        for (const m of before) {
          expect(m).toBeGreaterThan(0.2); // carrying (a sanity bound: rates are the bench's figures)
          expect(m).toBeLessThan(22);
        }
        expect(goodputMbps(r.samples, r.t0 + 0.7, down)).toBeGreaterThan(0.5);
        // while down the second path's receiving interface takes nothing
        expect(goodputMbps(p2!, down + 0.05, up - 0.05)).toBeLessThan(0.01);
        // and the first keeps the transfer going: never a whole second without data
        expect(longestGap(r.samples, down, up, 0.05)).toBeLessThan(1);
        // once up, the second path carries data again before the end
        expect(timeToReach(p2!, up, r.t0 + 4.4, 0.2)).toBeDefined();
        expect(r.bytes).toBeGreaterThan(0);
      } finally {
        await procs.killAll();
        await h.close();
      }
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      expect(left).not.toContain(h.nsA);
      expect(left).not.toContain(h.nsB);
    });

    it("times our stack's transfer on the same clock as the interface counters", async () => {
      const h = await twoHosts(238, [{ via: 'veth', rateMbps: 20 }]);
      const procs = new Procs();
      const dir = mkdtempSync(join(tmpdir(), 'mplab-bench-test-'));
      const agents: Agent[] = [];
      try {
        const js = await bundleAgent(dir);
        agents.push(await startAgent(procs, js, dir, h.nsA, 'a'));
        agents.push(await startAgent(procs, js, dir, h.nsB, 'b'));
        const rx = await startRxSampler(procs, h.nsB, [h.paths[0]!.ifB], 10);
        const r = await oursTransfer(agents[0]!, agents[1]!, h.paths[0]!.b, {
          seconds: 3,
          port: 4000,
          intervalMs: 10,
        });
        const end = now();
        const [p1] = await rx.stop();
        // samples lie between the sender's start and now, in order
        for (const s of r.samples) {
          expect(s.t).toBeGreaterThanOrEqual(r.t0);
          expect(s.t).toBeLessThanOrEqual(end);
        }
        for (let i = 1; i < r.samples.length; i++)
          expect(r.samples[i]!.t).toBeGreaterThanOrEqual(r.samples[i - 1]!.t);
        const app = goodputMbps(r.samples, r.t0 + 1, r.t0 + 2.8);
        const wire = goodputMbps(p1!, r.t0 + 1, r.t0 + 2.8);
        expect(app).toBeGreaterThan(8);
        // The link's rate bounds the application's over the whole transfer; over an inner window it
        // need not: bytes held for reordering at the window's start are delivered inside it.
        const whole = goodputMbps(r.samples, r.t0, r.samples.at(-1)!.t);
        expect(whole).toBeLessThan(21);
        // the application's bytes and the interface's agree (headers and retransmissions aside)
        expect(wire).toBeGreaterThan(app * 0.9);
        expect(wire).toBeLessThan(app * 1.35);
        expect(r.bytes).toBe(r.samples.at(-1)!.bytes);
      } finally {
        for (const a of agents) await stopAgent(a).catch(() => {});
        await procs.killAll();
        await h.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
