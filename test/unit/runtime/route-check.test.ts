import { describe, expect, it } from 'vitest';
import {
  isOpeningSyn,
  RouteCheck,
  type RouteRunner,
  routeLineMatters,
  unreachableFromIpError,
} from '../../../stack/runtime/route-check';

describe('route checks of the phys', () => {
  it("classifies ip route get's errors", () => {
    expect(unreachableFromIpError('RTNETLINK answers: No route to host')).toBe('EHOSTUNREACH');
    expect(unreachableFromIpError('RTNETLINK answers: Network is unreachable')).toBe('ENETUNREACH');
    expect(unreachableFromIpError('Error: inet address is expected rather than "x".')).toBeUndefined();
  });

  it('opening SYNs are SYN without ACK', () => {
    const seg = new Uint8Array(20);
    seg[13] = 0x02;
    expect(isOpeningSyn(seg)).toBe(true);
    seg[13] = 0x12;
    expect(isOpeningSyn(seg)).toBe(false);
    seg[13] = 0x10;
    expect(isOpeningSyn(seg)).toBe(false);
    expect(isOpeningSyn(new Uint8Array(10))).toBe(false);
  });

  it('asks once per pair, reports an unroutable pair on every SYN, asks again after forget', () => {
    const asked: string[][] = [];
    const pending: ((e: { stderr: string } | null) => void)[] = [];
    const run: RouteRunner = (args, done) => {
      asked.push(args);
      pending.push(done);
    };
    const reports: string[] = [];
    const rc = new RouteCheck(run, (s, d, c) => reports.push(`${s}>${d} ${c}`));
    rc.syn('10.0.2.1', '10.0.1.2');
    rc.syn('10.0.2.1', '10.0.1.2');
    rc.syn('10.0.1.1', '10.0.1.2');
    expect(asked).toEqual([
      ['route', 'get', '10.0.1.2', 'from', '10.0.2.1'],
      ['route', 'get', '10.0.1.2', 'from', '10.0.1.1'],
    ]);
    pending[0]!({ stderr: 'RTNETLINK answers: No route to host' });
    pending[1]!(null);
    expect(reports).toEqual(['10.0.2.1>10.0.1.2 EHOSTUNREACH']);
    rc.syn('10.0.2.1', '10.0.1.2');
    rc.syn('10.0.1.1', '10.0.1.2');
    expect(reports).toHaveLength(2);
    expect(asked).toHaveLength(2);
    // An answer from before forget() is stale and ignored.
    rc.syn('10.0.3.1', '10.0.1.2');
    rc.forget();
    pending[2]!({ stderr: 'RTNETLINK answers: No route to host' });
    expect(reports).toHaveLength(2);
    rc.syn('10.0.2.1', '10.0.1.2');
    expect(asked).toHaveLength(4);
  });
});

describe('which route events matter', () => {
  it('skips the local table and IPv6 link-local routes', () => {
    expect(
      routeLineMatters(
        'local fe80::28:37ff:feb2:1a73 dev eth2 table local proto kernel metric 0 pref medium',
      ),
    ).toBe(false);
    expect(routeLineMatters('fe80::/64 dev eth1 proto kernel metric 256 pref medium')).toBe(false);
    expect(routeLineMatters('Deleted fe80::/64 dev eth1 proto kernel metric 256 pref medium')).toBe(false);
    expect(routeLineMatters('')).toBe(false);
    expect(routeLineMatters('10.0.1.2 dev eth1 table 102 scope link')).toBe(true);
    expect(routeLineMatters('Deleted unreachable default table 102')).toBe(true);
    expect(routeLineMatters('32766:\tfrom all lookup main')).toBe(true);
  });
});
