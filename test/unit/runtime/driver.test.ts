import { describe, expect, it } from 'vitest';
import type { ConnStats, CoreEvent, NetCore, Packet } from '../../../stack/core/contract';
import { Driver, type PhySink } from '../../../stack/runtime/driver';
import { plausibleTcpSegment } from '../../../stack/runtime/udp-phy';
import { TinyCore } from './tiny-core';

/** A core that records calls and lets the test set its deadline and output. */
class ProbeCore implements NetCore {
  inputs: number[] = [];
  advances: number[] = [];
  deadline = Number.POSITIVE_INFINITY;
  output: Packet[] = [];
  events: CoreEvent[] = [];
  inputsAtAdvance: number[] = [];
  input(_p: Packet, now: number): void {
    this.inputs.push(now);
  }
  advance(now: number): void {
    this.advances.push(now);
    this.inputsAtAdvance.push(this.inputs.length);
    // Like a real core: a timer that ran is gone.
    if (now >= this.deadline) this.deadline = Number.POSITIVE_INFINITY;
  }
  nextDeadline(): number {
    return this.deadline;
  }
  takeOutput(): Packet[] {
    const o = this.output;
    this.output = [];
    return o;
  }
  takeEvents(): CoreEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }
  listen(): void {}
  unlisten(): void {}
  connect(): number {
    return 1;
  }
  write(): number {
    return 0;
  }
  end(): void {}
  abort(): void {}
  consumed(): void {}
  info() {
    return undefined;
  }
  setAddresses(): void {}
  connStats(): ConnStats[] {
    return [];
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function pkt(n: number): Packet {
  const data = new Uint8Array(20);
  data[12] = 5 << 4;
  data[0] = n;
  return { src: 'a', dst: 'b', data };
}

describe('Driver', () => {
  it('feeds every packet of a tick, then advances once, then flushes once', async () => {
    const core = new ProbeCore();
    const sent: Packet[][] = [];
    const d = new Driver(core, { send: (p) => sent.push(p) });
    core.output = [pkt(9)];
    for (let i = 0; i < 50; i++) d.receive(pkt(i));
    await tick();
    expect(core.inputs).toHaveLength(50);
    expect(core.advances).toHaveLength(1);
    expect(core.inputsAtAdvance).toEqual([50]);
    expect(sent).toHaveLength(1);
    expect(d.counters.turns).toBe(1);
    // Every input of the batch sees the same `now`.
    expect(new Set(core.inputs).size).toBe(1);
    d.stop();
  });

  it('arms one timer for the deadline, re-arms earlier, and fires advance at the deadline', async () => {
    const core = new ProbeCore();
    const d = new Driver(core, { send: () => {} });
    const t0 = d.now();
    core.deadline = t0 + 60;
    d.kick();
    await tick();
    expect(core.advances).toHaveLength(1);
    // A deadline moved earlier wins.
    core.deadline = t0 + 20;
    d.kick();
    await tick();
    await sleep(35);
    expect(d.counters.timerFires).toBe(1);
    const fired = core.advances[2]!;
    expect(fired).toBeGreaterThanOrEqual(t0 + 20);
    expect(fired).toBeLessThan(t0 + 55);
    // After firing, the core says idle: nothing more happens.
    core.deadline = Number.POSITIVE_INFINITY;
    const n = core.advances.length;
    await sleep(50);
    // The stale 60 ms timer was cleared when the earlier one was armed.
    expect(core.advances.length).toBe(n + 0);
    d.stop();
  });

  it('does not re-arm when the deadline moves later (the early fire is harmless)', async () => {
    const core = new ProbeCore();
    const d = new Driver(core, { send: () => {} });
    const t0 = d.now();
    core.deadline = t0 + 15;
    d.kick();
    await tick();
    core.deadline = t0 + 40;
    d.kick();
    await tick();
    await sleep(25);
    // Fired at the first (earlier) arming, then re-armed for t0+40.
    expect(d.counters.timerFires).toBe(1);
    await sleep(30);
    expect(d.counters.timerFires).toBe(2);
    expect(core.advances.at(-1)!).toBeGreaterThanOrEqual(t0 + 40);
    d.stop();
  });

  it('survives a core that throws on input', async () => {
    const core = new ProbeCore();
    core.input = () => {
      throw new Error('boom');
    };
    const d = new Driver(core, { send: () => {} });
    d.receive(pkt(1));
    d.receive(pkt(2));
    await tick();
    expect(d.counters.coreErrors).toBe(2);
    expect(core.advances).toHaveLength(1);
    d.stop();
  });

  it('runs two honest cores end to end over an in-memory phy with far fewer turns than packets', async () => {
    const a = new TinyCore();
    const b = new TinyCore();
    a.setAddresses(['10.0.0.1']);
    b.setAddresses(['10.0.0.2']);
    let da: Driver;
    let db: Driver;
    const toB: PhySink = {
      send: (ps) => {
        for (const p of ps) db.receive(p);
      },
    };
    const toA: PhySink = {
      send: (ps) => {
        for (const p of ps) da.receive(p);
      },
    };
    da = new Driver(a, toB);
    db = new Driver(b, toA);
    b.listen(80);
    let received = 0;
    const events: string[] = [];
    db.onEvents = (evs) => {
      for (const e of evs) {
        events.push(e.type);
        if (e.type === 'data') {
          received += e.data.length;
          b.consumed(e.conn, e.data.length, db.now());
        }
      }
    };
    const total = 2_000_000;
    let written = 0;
    let conn = -1;
    const payload = new Uint8Array(64 * 1024);
    const pumpWrite = () => {
      while (written < total) {
        const n = a.write(conn, payload.subarray(0, Math.min(payload.length, total - written)), da.now());
        written += n;
        if (n === 0) return;
      }
      a.end(conn, da.now());
    };
    let closed = false;
    da.onEvents = (evs) => {
      for (const e of evs) {
        if (e.type === 'connected' || e.type === 'writable') pumpWrite();
        if (e.type === 'closed') closed = true;
      }
    };
    conn = a.connect({ host: '10.0.0.2', port: 80 }, da.now());
    da.kick();
    for (let i = 0; i < 2000 && !closed; i++) await tick();
    expect(received).toBe(total);
    expect(events).toContain('accepted');
    expect(events).toContain('end');
    const packets = da.counters.packetsOut + db.counters.packetsOut;
    expect(packets).toBeGreaterThan(total / 1400);
    expect(da.counters.turns + db.counters.turns).toBeLessThan(packets / 4);
    da.stop();
    db.stop();
  });
});

describe('plausibleTcpSegment', () => {
  it('rejects short, bad-offset and port-0 datagrams', () => {
    expect(plausibleTcpSegment(new Uint8Array(10))).toBe(false);
    const h = pkt(1).data;
    h[2] = 1;
    expect(plausibleTcpSegment(h)).toBe(true);
    const bad = h.slice();
    bad[12] = 15 << 4; // 60-byte header in a 20-byte datagram
    expect(plausibleTcpSegment(bad)).toBe(false);
    const p0 = h.slice();
    p0[0] = 0;
    p0[1] = 0;
    expect(plausibleTcpSegment(p0)).toBe(false);
  });
});

describe('Driver (property)', () => {
  it('delivers every received packet exactly once, in order, one advance per turn', async () => {
    const fc = await import('fast-check');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 20 }),
        async (bursts) => {
          const core = new ProbeCore();
          const seen: number[] = [];
          core.input = (p: Packet) => {
            seen.push(p.data[0]! | (p.data[1]! << 8));
          };
          const d = new Driver(core, { send: () => {} });
          let n = 0;
          for (const burst of bursts) {
            for (let i = 0; i < burst; i++) {
              const p = pkt(n & 0xff);
              p.data[1] = n >> 8;
              d.receive(p);
              n++;
            }
            if (burst % 3 === 0) d.kick();
            await tick();
          }
          d.stop();
          expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
          expect(d.counters.packetsIn).toBe(n);
          // Never more turns than bursts (a burst is one tick): batching holds.
          expect(d.counters.turns).toBeLessThanOrEqual(bursts.length);
          expect(core.advances.length).toBe(d.counters.turns);
        },
      ),
      { numRuns: 50 },
    );
  });
});
