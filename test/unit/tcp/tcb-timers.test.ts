import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../stack/tcp/tcb';
import { Pair, pattern } from './pair';

function established(o: ConstructorParameters<typeof Pair>[0] = {}): Pair {
  const p = new Pair(o);
  p.connect();
  p.run(100);
  expect(p.a.tcb.state).toBe(TcpState.ESTABLISHED);
  p.log.length = 0;
  return p;
}

describe('keepalive and timeouts', () => {
  it('keepalive probes an idle peer, keeps a live connection, and drops a dead one', () => {
    const cfg = { keepaliveIdleMs: 1000, keepaliveIntervalMs: 500, keepaliveProbes: 3 };
    const p = established({ a: cfg });
    p.run(5000);
    // Live peer: a probe every idle period, each answered; the connection stays.
    const probes = p.segs('ab', (s) => s.payload.length === 0 && s.seq === (p.a.tcb.sndUna - 1) >>> 0);
    expect(probes.length).toBeGreaterThanOrEqual(3);
    expect(p.segs('ba').length).toBeGreaterThanOrEqual(probes.length);
    expect(p.a.tcb.state).toBe(TcpState.ESTABLISHED);
    // Dead peer: probes go unanswered; after 3 probes the connection times out.
    p.drop = () => true;
    const t0 = p.now;
    p.run(t0 + 10_000);
    expect(p.a.tcb.state).toBe(TcpState.CLOSED);
    expect(p.a.events.at(-1)).toBe('closed:ETIMEDOUT');
  });

  it('the user timeout aborts when data stays unacknowledged too long', () => {
    const p = established({ a: { userTimeoutMs: 3000, dataRetries: 100 } });
    p.drop = (s) => s.dir === 'ab';
    const t0 = p.now;
    p.a.snd.write(p.a.tcb, pattern(1000));
    p.a.tcb.output(p.now);
    let closedAt = -1;
    for (let i = 0; i < 200 && closedAt < 0; i++) {
      p.run(p.now + 100);
      if (p.a.tcb.state === TcpState.CLOSED) closedAt = p.now;
    }
    expect(p.a.events.at(-1)).toBe('closed:ETIMEDOUT');
    // Not before 3 s, and at the first RTO after that (RTO ≤ 3.2 s by then).
    expect(closedAt - t0).toBeGreaterThanOrEqual(3000);
    expect(closedAt - t0).toBeLessThan(3000 + 3300);
  });

  it('FIN_WAIT_2 timeout (when configured) closes an orphaned half-closed connection', () => {
    const p = established({ a: { finWait2Ms: 2000 } });
    p.a.tcb.close(p.now);
    p.run(p.now + 100);
    expect(p.a.tcb.state).toBe(TcpState.FIN_WAIT_2);
    p.run(p.now + 2100);
    expect(p.a.tcb.state).toBe(TcpState.CLOSED);
  });

  it('without a FIN_WAIT_2 timeout a half-closed connection lives on', () => {
    const p = established();
    p.a.tcb.close(p.now);
    p.run(p.now + 120_000);
    expect(p.a.tcb.state).toBe(TcpState.FIN_WAIT_2);
    expect(p.a.tcb.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });
});
