import { describe, expect, it } from 'vitest';
import { buildMultiPath } from '../../../stack/sim/index';
import { ProbeCore } from '../../../stack/sim/testcores';

// Hosts remember their last own and foreign address lookups (per-packet speed); every address
// change must invalidate them.
describe('host address lookups across address changes', () => {
  it('an address used, removed, used, re-added, used: routed, no route, routed', () => {
    const mp = buildMultiPath({ factory: () => new ProbeCore(), paths: [{}, {}] });
    const client = mp.client.core as ProbeCore;
    const send = (t: number, seq: number) =>
      mp.sim.at(t, () => {
        client.send('10.1.0.1', '10.1.0.2', 60, seq, mp.sim.now);
        mp.client.pump();
      });
    send(5, 1); // warms the lookup of 10.1.0.1 as own
    mp.sim.at(10, () => mp.client.removeAddress('10.1.0.1'));
    send(20, 2); // must not reuse the remembered interface
    mp.sim.at(30, () => mp.client.addAddress('10.1.0.1', mp.client.ifaces[0]));
    send(40, 3); // remembered as foreign at t=20: must be found again
    mp.sim.run();
    expect(mp.client.counters.noRoute).toBe(1);
    expect((mp.server.core as ProbeCore).received.map((r) => r.seq)).toEqual([1, 3]);
  });

  it('owns() follows an address added and removed after it was looked up', () => {
    const mp = buildMultiPath({ factory: () => new ProbeCore(), paths: [{}] });
    expect(mp.client.owns('10.9.9.9')).toBe(false); // remembered as foreign
    mp.client.addAddress('10.9.9.9', mp.client.ifaces[0]);
    expect(mp.client.owns('10.9.9.9')).toBe(true); // remembered as own
    mp.client.removeAddress('10.9.9.9');
    expect(mp.client.owns('10.9.9.9')).toBe(false);
  });
});
