import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressesFromIpJson,
  encapsulate,
  IpParser,
  LOCAL_PREF,
  localRuleLines,
  restoreLocalLines,
  STEER_PREF,
  steeringConfig,
  steerRule,
  tunMss,
} from '../../../stack/runtime/tun-phy';
import { buildIpPacket, decodeIpPacket, ParseError, verifyIPv4Checksum } from '../../../stack/wire/index';

/** A minimal TCP header (20 bytes, data offset 5) with ports and some payload. */
function tcp(payload = 0): Uint8Array {
  const b = new Uint8Array(20 + payload);
  b[0] = 0x9c;
  b[1] = 0x40; // 40000
  b[2] = 0x14;
  b[3] = 0x51; // 5201
  b[12] = 0x50;
  for (let i = 0; i < payload; i++) b[20 + i] = i & 0xff;
  return b;
}

describe('encapsulate + IpParser', () => {
  it('IPv4: header matches the wire codec, checksum right, parser returns the segment as a view', () => {
    const seg = tcp(100);
    const buf = new Uint8Array(2000);
    const n = encapsulate(buf, { src: '10.1.2.3', dst: '10.4.5.6', data: seg }, 0x1234, 64);
    expect(n).toBe(140);
    const pkt = buf.subarray(0, n);
    expect(verifyIPv4Checksum(pkt)).toBe(true);
    const ref = decodeIpPacket(pkt);
    if (ref instanceof ParseError) throw ref;
    expect(ref.header.src).toBe('10.1.2.3');
    expect(ref.header.dst).toBe('10.4.5.6');
    expect(ref.protocol).toBe(6);
    expect(ref.header.version === 4 && ref.header.flags).toBe(2); // DF
    expect(ref.header.version === 4 && ref.header.id).toBe(0x1234);
    const p = new IpParser().parse(pkt);
    if (typeof p === 'string') throw new Error(p);
    expect(p.src).toBe('10.1.2.3');
    expect(p.dst).toBe('10.4.5.6');
    expect(Array.from(p.data)).toEqual(Array.from(seg));
    expect(p.data.buffer).toBe(pkt.buffer); // no copy
  });

  it('IPv6: round trip, and the name cache follows a change of peer', () => {
    const parser = new IpParser();
    const buf = new Uint8Array(2000);
    for (const [src, dst] of [
      ['fd00:1::1', 'fd00:1::2'],
      ['fd00:1::1', 'fd00:1::2'],
      ['fd00:2::1', 'fd00:1::2'],
      ['fd00:1::1', 'fd00:3::9'],
    ] as const) {
      const n = encapsulate(buf, { src, dst, data: tcp(10) }, 0);
      expect(n).toBe(70);
      const ref = decodeIpPacket(buf, 0, n);
      if (ref instanceof ParseError) throw ref;
      expect([ref.header.src, ref.header.dst]).toEqual([src, dst]);
      const p = parser.parse(buf.slice(0, n));
      if (typeof p === 'string') throw new Error(p);
      expect([p.src, p.dst]).toEqual([src, dst]);
    }
  });

  it('mixed families are refused', () => {
    expect(encapsulate(new Uint8Array(100), { src: '10.0.0.1', dst: 'fd00::1', data: tcp() }, 0)).toBe(-1);
  });

  it('drops what is not a whole TCP segment, and says why', () => {
    const parser = new IpParser();
    const udp = buildIpPacket('10.0.0.1', '10.0.0.2', 17, new Uint8Array(20));
    expect(parser.parse(udp)).toBe('not-tcp');
    const icmp6 = buildIpPacket('fd00::1', 'fd00::2', 58, new Uint8Array(20));
    expect(parser.parse(icmp6)).toBe('not-tcp');
    const frag = buildIpPacket('10.0.0.1', '10.0.0.2', 6, tcp(8), { flags: 1 }); // MF
    expect(parser.parse(frag)).toBe('fragment');
    const frag6 = buildIpPacket('fd00::1', 'fd00::2', 44, new Uint8Array(40));
    expect(parser.parse(frag6)).toBe('fragment');
    const short = buildIpPacket('10.0.0.1', '10.0.0.2', 6, new Uint8Array(10));
    expect(parser.parse(short)).toBe('bad');
    const v4 = buildIpPacket('10.0.0.1', '10.0.0.2', 6, tcp(4));
    expect(parser.parse(v4.subarray(0, 30))).toBe('bad'); // total length beyond the read
    expect(parser.parse(new Uint8Array([0x45]))).toBe('short');
    expect(parser.parse(new Uint8Array(40).fill(0x20))).toBe('bad');
    expect(parser.parse(new Uint8Array(0))).toBe('short');
  });

  it('property: any IPv4 pair and payload survive encapsulate -> parse', () => {
    const parser = new IpParser();
    const buf = new Uint8Array(70000);
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 1460 }), (src, dst, len) => {
        const seg = tcp(len);
        const n = encapsulate(buf, { src, dst, data: seg }, len);
        const p = parser.parse(buf.slice(0, n));
        if (typeof p === 'string') return false;
        return p.src === src && p.dst === dst && p.data.length === seg.length && verifyIPv4Checksum(buf);
      }),
      { numRuns: 300 },
    );
  });
});

describe('steering configuration', () => {
  it('one rule per address and family, routes into the device, forwarding and accept_local', () => {
    const c = steeringConfig('mptun0', ['10.0.1.1', 'fd00::1', '10.0.2.1'], 8684);
    expect(c.v4).toEqual([
      'route replace default dev mptun0 table 8684',
      `rule add pref ${STEER_PREF} to 10.0.1.1/32 ipproto tcp lookup 8684`,
      `rule add pref ${STEER_PREF} to 10.0.2.1/32 ipproto tcp lookup 8684`,
    ]);
    expect(c.v6).toEqual([
      'route replace default dev mptun0 table 8684',
      `rule add pref ${STEER_PREF} to fd00::1/128 ipproto tcp lookup 8684`,
    ]);
    expect(c.sysctls).toContain('net.ipv4.conf.mptun0.accept_local=1');
    expect(c.sysctls).toContain('net.ipv4.ip_forward=1');
    expect(c.sysctls).toContain('net.ipv6.conf.all.forwarding=1');
    expect(steerRule('del', 'fd00::1')).toBe(
      `rule del pref ${STEER_PREF} to fd00::1/128 ipproto tcp lookup 8684`,
    );
  });

  it('moves the local table after the steering rules once', () => {
    const fresh =
      '0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n';
    expect(localRuleLines(fresh)).toEqual([
      `rule add pref ${LOCAL_PREF} lookup local`,
      'rule del pref 0 lookup local',
    ]);
    const moved = `${LOCAL_PREF}:\tfrom all lookup local\n32766:\tfrom all lookup main\n`;
    expect(localRuleLines(moved)).toEqual([]);
    expect(STEER_PREF).toBeLessThan(LOCAL_PREF);
  });

  it('puts the local table back first once no steering rule is left', () => {
    const moved = `${LOCAL_PREF}:\tfrom all lookup local\n32766:\tfrom all lookup main\n`;
    expect(restoreLocalLines(moved)).toEqual([
      'rule add pref 0 lookup local',
      `rule del pref ${LOCAL_PREF} lookup local`,
    ]);
    const stillSteered = `${STEER_PREF}:\tfrom all to 10.0.0.1 ipproto tcp lookup 8684\n${moved}`;
    expect(restoreLocalLines(stillSteered)).toEqual([]);
    expect(restoreLocalLines(stillSteered, 9000)).toHaveLength(2);
    expect(restoreLocalLines('0:\tfrom all lookup local\n')).toEqual([]);
    expect(restoreLocalLines(`0:\tfrom all lookup local\n${moved}`)).toEqual([
      `rule del pref ${LOCAL_PREF} lookup local`,
    ]);
  });

  it('learns global addresses of interfaces that are up with carrier, not the TUN device', () => {
    const json = JSON.stringify([
      {
        ifname: 'lo',
        flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
        addr_info: [{ local: '127.0.0.1', family: 'inet', scope: 'host' }],
      },
      {
        ifname: 'eth1',
        flags: ['BROADCAST', 'UP', 'LOWER_UP'],
        addr_info: [
          { local: '10.0.1.1', family: 'inet', scope: 'global' },
          { local: 'fe80::1', family: 'inet6', scope: 'link' },
          { local: 'fd00::1', family: 'inet6', scope: 'global' },
          { local: 'fd00::9', family: 'inet6', scope: 'global', tentative: true },
        ],
      },
      {
        ifname: 'eth2',
        flags: ['BROADCAST', 'NO-CARRIER', 'UP'],
        addr_info: [{ local: '10.0.2.1', family: 'inet', scope: 'global' }],
      },
      {
        ifname: 'mptun0',
        flags: ['POINTOPOINT', 'UP', 'LOWER_UP'],
        addr_info: [{ local: '10.9.9.9', family: 'inet', scope: 'global' }],
      },
    ]);
    expect(addressesFromIpJson(json, 'mptun0')).toEqual(['10.0.1.1', 'fd00::1']);
  });

  it('MSS per family', () => {
    expect(tunMss(1500, 4)).toBe(1460);
    expect(tunMss(1500, 6)).toBe(1440);
  });
});
