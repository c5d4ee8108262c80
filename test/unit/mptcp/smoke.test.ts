import { describe, expect, it } from 'vitest';
import { buildPair, buildTwoPath, startBulk } from '../../../stack/sim/index';
import { hostOf, mptcpFactory } from './helpers';

describe('mptcp smoke', () => {
  it('one path, MP_CAPABLE, 1 MB intact', () => {
    const { sim, a, b } = buildPair({ factory: mptcpFactory(), rateMbps: 20, rttMs: 20 });
    const t = startBulk(sim, { client: a, server: b, bytes: 1_000_000 });
    sim.runWhile(() => !t.done, 20_000);
    const ha = hostOf(a.core);
    console.log(ha.reportText());
    console.log(hostOf(b.core).reportText());
    expect(t.error).toBeUndefined();
    expect(t.ok).toBe(true);
  });

  it('two paths fullmesh', () => {
    const { sim, client, server } = buildTwoPath({
      factory: mptcpFactory(),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    const t = startBulk(sim, { client, server, bytes: 5_000_000 });
    sim.runWhile(() => !t.done, 20_000);
    console.log(hostOf(client.core).reportText());
    console.log(t.goodputMbps, t.error);
    expect(t.ok).toBe(true);
  });
});
