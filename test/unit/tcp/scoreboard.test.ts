import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { F_LOST, F_REXMIT, F_SACKED, Scoreboard } from '../../../stack/tcp/scoreboard';

/** Recomputes RFC 6675 SetPipe and the SACKed byte count from the records. */
function check(b: Scoreboard): void {
  let pipe = 0;
  let sacked = 0;
  for (let i = 0; i < b.count; i++) {
    const f = b.flagsAt(i);
    const l = b.lenAt(i);
    if (i > 0) expect(b.seqAt(i)).toBe((b.seqAt(i - 1) + b.lenAt(i - 1)) >>> 0);
    if (f & F_SACKED) {
      sacked += l;
      continue;
    }
    pipe += (f & F_LOST ? 0 : l) + (f & F_REXMIT ? l : 0);
  }
  expect(b.pipe).toBe(pipe);
  expect(b.sackedBytes).toBe(sacked);
}

const op = fc.oneof(
  fc.record({ t: fc.constant('push' as const), len: fc.integer({ min: 1, max: 1500 }) }),
  fc.record({ t: fc.constant('sack' as const), a: fc.nat(40), b: fc.nat(40) }),
  fc.record({ t: fc.constant('ack' as const), n: fc.nat(30_000) }),
  fc.record({ t: fc.constant('lost' as const) }),
  fc.record({ t: fc.constant('rexmit' as const) }),
  fc.record({ t: fc.constant('rto' as const) }),
  fc.record({ t: fc.constant('lostRexmit' as const) }),
  fc.record({ t: fc.constant('unmark' as const) }),
);

describe('SACK scoreboard', () => {
  it('keeps pipe and SACKed bytes exact through any sequence of events (across the wrap)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(op, { maxLength: 120 }), (base, ops) => {
        const b = new Scoreboard(16);
        let next = base >>> 0;
        let una = base >>> 0;
        for (const o of ops) {
          switch (o.t) {
            case 'push':
              b.push(next, o.len, false);
              next = (next + o.len) >>> 0;
              break;
            case 'sack': {
              if (b.count === 0) break;
              const i = Math.min(o.a, o.b) % b.count;
              const j = Math.max(o.a, o.b) % b.count;
              b.sack(b.seqAt(i), (b.seqAt(j) + b.lenAt(j)) >>> 0);
              break;
            }
            case 'ack': {
              const room = (next - una) >>> 0;
              const n = Math.min(o.n, room);
              una = (una + n) >>> 0;
              b.ackTo(una);
              break;
            }
            case 'lost':
              b.markLost(3, 1000);
              break;
            case 'rexmit': {
              const i = b.nextLost();
              if (i >= 0) b.markRetransmitted(i);
              break;
            }
            case 'rto':
              b.markAllLost();
              break;
            case 'lostRexmit':
              b.detectLostRetransmits(3);
              break;
            case 'unmark':
              b.unmarkLost();
              break;
          }
          check(b);
          if (b.count > 0) expect(b.seqAt(0)).toBe(una);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('deems a hole lost once more than (DupThresh − 1) × SMSS above it is SACKed', () => {
    const b = new Scoreboard();
    for (let i = 0; i < 6; i++) b.push(i * 1000, 1000, false);
    b.sack(1000, 3000); // two segments above the hole at 0
    expect(b.markLost(3, 1000)).toBe(0);
    b.sack(3000, 4000); // three: more than 2 × 1000
    expect(b.markLost(3, 1000)).toBe(1);
    expect(b.nextLost()).toBe(0);
    expect(b.pipe).toBe(2000); // records 4 and 5
    b.markRetransmitted(0);
    expect(b.pipe).toBe(3000);
    expect(b.nextLost()).toBe(-1);
  });
});
