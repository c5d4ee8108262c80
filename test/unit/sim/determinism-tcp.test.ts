/**
 * Determinism with the real TCP engine (stack/tcp/host.ts): an impaired two-flow bottleneck run
 * twice gives byte-identical connection traces, packet traces and counters.
 */
import { describe, expect, it } from 'vitest';
import { buildDumbbell, ConnTrace, type CoreFactory, startBulk } from '../../../stack/sim/index';
import { TcpHost } from '../../../stack/tcp/host';

const tcp: CoreFactory = (h) =>
  new TcpHost({ addresses: h.addresses, isnSecret: h.rng.bytes(16), random: () => h.rng.nextU32() });

function scenario(seed: string) {
  const d = buildDumbbell({
    factory: tcp,
    left: 2,
    seed,
    bottleneck: {
      rateMbps: 20,
      rttMs: 30,
      jitterMs: 1,
      queueMs: 30,
      loss: 0.005,
      reorder: { prob: 0.01, extraDelayMs: 3 },
    },
  });
  d.bottleneck.schedule([
    { at: 400, set: { rateMbps: 8 }, dir: 'ab' },
    { at: 700, down: true },
    { at: 900, up: true },
  ]);
  const trace = new ConnTrace(d.sim, { everyMs: 5 });
  const packets = d.sim.tracePackets(50_000);
  const xs = d.left.map((h, i) =>
    startBulk(d.sim, { client: h, server: d.right[i]!, bytes: 1_500_000, port: 80 + i, at: i * 37 }),
  );
  d.sim.runWhile(() => !xs.every((x) => x.done), 120_000);
  d.sim.run(200_000);
  return {
    ok: xs.every((x) => x.ok),
    trace: trace.toCSV(),
    packets: packets.toCSV(),
    summary: JSON.stringify(d.sim.summary()),
    finished: xs.map((x) => x.finishedAt),
  };
}

describe('determinism with the TCP engine', () => {
  it('the same seed gives byte-identical traces; another seed does not', () => {
    const a = scenario('tcp-det');
    const b = scenario('tcp-det');
    expect(a.ok).toBe(true);
    expect(a.trace.split('\n').length).toBeGreaterThan(500);
    expect(b.trace).toBe(a.trace);
    expect(b.packets).toBe(a.packets);
    expect(b.summary).toBe(a.summary);
    expect(b.finished).toEqual(a.finished);
    const c = scenario('tcp-det-2');
    expect(c.ok).toBe(true);
    expect(c.packets).not.toBe(a.packets);
  });
});

describe('bulk payload buffer reuse', () => {
  it('is safe with a core that copies on write: same bytes, same hash as without reuse', () => {
    const run = (reuseBuffer: boolean) => {
      const d = buildDumbbell({
        factory: tcp,
        left: 1,
        seed: 9,
        bottleneck: { rateMbps: 50, rttMs: 10, loss: 0.01 },
      });
      const x = startBulk(d.sim, {
        client: d.left[0]!,
        server: d.right[0]!,
        bytes: 2_000_000,
        chunkBytes: 10_000,
        reuseBuffer,
      });
      d.sim.runWhile(() => !x.done, 60_000);
      return x;
    };
    const fresh = run(false);
    const reused = run(true);
    expect(fresh.ok).toBe(true);
    expect(reused.ok).toBe(true);
    expect(reused.receivedSha).toBe(fresh.receivedSha);
  });
});

describe('observing does not disturb', () => {
  it('traces, captures and taps leave the run unchanged', () => {
    const run = (observe: boolean) => {
      const d = buildDumbbell({
        factory: tcp,
        left: 2,
        seed: 4,
        bottleneck: { rateMbps: 30, rttMs: 20, queueMs: 20, loss: 0.003, jitterMs: 0.5 },
      });
      if (observe) {
        new ConnTrace(d.sim, { everyMs: 1 });
        d.sim.tracePackets(1000);
        d.bottleneck.tap(() => {});
      }
      const xs = d.left.map((h, i) =>
        startBulk(d.sim, { client: h, server: d.right[i]!, bytes: 800_000, port: 9 + i }),
      );
      d.sim.runWhile(() => !xs.every((x) => x.done), 60_000);
      d.sim.run(100_000);
      const { events: _e, ...rest } = d.sim.summary();
      return { ok: xs.every((x) => x.ok), rest: JSON.stringify(rest), fin: xs.map((x) => x.finishedAt) };
    };
    const quiet = run(false);
    const watched = run(true);
    expect(quiet.ok).toBe(true);
    expect(watched.fin).toEqual(quiet.fin);
    expect(watched.rest).toBe(quiet.rest);
  });
});
