/**
 * Property: whatever the path does (loss, duplication, reordering, in both directions), both byte
 * streams arrive intact and in order, and both ends finish the close handshake.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../stack/tcp/tcb';
import { Pair, pattern, received, sha256 } from './pair';

describe('TCB under adversarial paths', () => {
  it('delivers both streams intact and closes, for any loss/dup/reorder mix', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          loss: fc.double({ min: 0, max: 0.15, noNaN: true }),
          dup: fc.double({ min: 0, max: 0.1, noNaN: true }),
          jitter: fc.double({ min: 0, max: 20, noNaN: true }),
          sizeA: fc.integer({ min: 0, max: 60_000 }),
          sizeB: fc.integer({ min: 0, max: 30_000 }),
          sack: fc.boolean(),
          ts: fc.boolean(),
          cc: fc.constantFrom('reno', 'cubic'),
        }),
        (c) => {
          // TIME_WAIT (2 MSL) must outlast the peer's backed-off FIN retransmissions: with loss for
          // 10 s the peer's RTO stays below 26 s, so 60 s always catches the last FIN again.
          const cfg = { sack: c.sack, timestamps: c.ts, cc: c.cc, timeWaitMs: 60_000, rtoMin: 100 };
          const p = new Pair({ delayMs: 5, rate: 20e6, a: cfg, b: cfg, rcvBuf: 32 * 1024 });
          p.seed(c.seed);
          p.jitterMs = c.jitter;
          p.dupProb = c.dup;
          p.connect();
          // Loss spares nothing (after the first SYN) but stops after 10 s so every run can finish.
          p.drop = (s) => s.t < 10_000 && p.random() < c.loss;
          const da = pattern(c.sizeA, c.seed);
          const db = pattern(c.sizeB, c.seed + 1);
          const pa = p.write(p.a, da);
          const pb = p.write(p.b, db);
          let closedA = false;
          let closedB = false;
          for (let i = 0; i < 4000; i++) {
            pa();
            pb();
            if (!closedA && pa() === da.length && p.a.tcb.state >= TcpState.ESTABLISHED) {
              p.a.tcb.close(p.now);
              closedA = true;
            }
            if (!closedB && pb() === db.length && p.b.tcb.state >= TcpState.ESTABLISHED) {
              p.b.tcb.close(p.now);
              closedB = true;
            }
            p.run(p.now + 50);
            if (p.a.tcb.state === TcpState.CLOSED && p.b.tcb.state === TcpState.CLOSED) break;
          }
          expect(received(p.b)).toBe(da.length);
          expect(received(p.a)).toBe(db.length);
          expect(sha256(p.b.received)).toBe(sha256(da));
          expect(sha256(p.a.received)).toBe(sha256(db));
          expect(p.a.tcb.state).toBe(TcpState.CLOSED);
          expect(p.b.tcb.state).toBe(TcpState.CLOSED);
          expect(p.a.events.filter((e) => e.startsWith('closed'))).toEqual(['closed']);
          expect(p.b.events.filter((e) => e.startsWith('closed'))).toEqual(['closed']);
        },
      ),
      { numRuns: 60 },
    );
  });
});
