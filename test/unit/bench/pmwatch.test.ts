import { describe, expect, it } from 'vitest';
import { parseLinkLine, reactionLines } from '../../../bench/lib/pmwatch';

// Lines as `ip -o monitor link` (iproute2 6.1) prints them for a veth taken down and brought back.
const DOWN =
  '2: x0@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether aa:43:a2:17:2d:f8 brd ff:ff:ff:ff:ff:ff link-netns b';
const UP_NO_CARRIER =
  '2: x0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether aa:43:a2:17:2d:f8';
const UP =
  '2: x0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    link/ether aa:43:a2:17:2d:f8';

describe('endpoint watcher (mptcpd-like)', () => {
  it('calls an interface usable only when up with carrier (IFF_UP and IFF_RUNNING)', () => {
    expect(parseLinkLine(DOWN)).toEqual({ ifname: 'x0', usable: false });
    expect(parseLinkLine(UP_NO_CARRIER)).toEqual({ ifname: 'x0', usable: false });
    expect(parseLinkLine(UP)).toEqual({ ifname: 'x0', usable: true });
    expect(parseLinkLine(`Deleted ${UP}`)).toEqual({ ifname: 'x0', usable: false });
    expect(parseLinkLine('3: eth1: <BROADCAST,UP,LOWER_UP> mtu 1500')).toEqual({
      ifname: 'eth1',
      usable: true,
    });
    expect(parseLinkLine('    link/ether aa:bb')).toBeUndefined();
  });

  it('deletes the endpoint on loss and restores route and endpoint on return', () => {
    const ep = { addr: '10.235.2.1', ifname: 'pa1x', id: 2, table: 101 };
    expect(reactionLines(ep, false)).toEqual(['mptcp endpoint delete id 2']);
    expect(reactionLines(ep, true)).toEqual([
      'route replace default dev pa1x table 101',
      'mptcp endpoint add 10.235.2.1 dev pa1x id 2 subflow',
    ]);
  });
});
