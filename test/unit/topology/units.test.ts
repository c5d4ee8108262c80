import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bits,
  formatIpv6,
  formatSubnet,
  overlaps,
  parseCidr,
  parseIpValue,
  parseIpv6,
} from '../../../lab/topology/addr';
import { editDistance } from '../../../lab/topology/suggest';
import { parsePercent, parseQueue, parseRate, parseSize, parseTime } from '../../../lab/topology/units';

function val<T>(r: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!r.ok) throw new Error(r.message);
  return r.value;
}
function msg(r: { ok: boolean; message?: string }): string {
  expect(r.ok).toBe(false);
  return r.message ?? '';
}

describe('units', () => {
  it('rates in bits per second, tc bps refused', () => {
    expect(val(parseRate('20mbit'))).toBe(20);
    expect(val(parseRate('1gbit'))).toBe(1000);
    expect(val(parseRate('500kbit'))).toBeCloseTo(0.5);
    expect(val(parseRate('9600bit'))).toBeCloseTo(0.0096);
    expect(val(parseRate(' 2.5 Mbit '))).toBe(2.5);
    expect(msg(parseRate('20mbps'))).toContain('ambiguous');
    expect(msg(parseRate('20Mb/s'))).toContain('ambiguous');
    expect(msg(parseRate(20))).toContain('bare number');
    expect(msg(parseRate('0mbit'))).toContain('greater than zero');
    expect(msg(parseRate('fast'))).toContain('expected a rate');
  });
  it('times in ms', () => {
    expect(val(parseTime('10ms'))).toBe(10);
    expect(val(parseTime('1.5s'))).toBe(1500);
    expect(val(parseTime('250us'))).toBe(0.25);
    expect(val(parseTime('2min'))).toBe(120_000);
    expect(val(parseTime(0))).toBe(0);
    expect(msg(parseTime('-5ms'))).toContain('negative');
    expect(msg(parseTime(10))).toContain('bare number');
    expect(msg(parseTime('3 parsecs'))).toContain('unknown time unit');
  });
  it('sizes, queues and percentages', () => {
    expect(val(parseSize('64kb'))).toBe(64_000);
    expect(val(parseSize('64kib'))).toBe(65_536);
    expect(val(parseSize('1500b'))).toBe(1500);
    expect(val(parseQueue('100 packets'))).toEqual({ packets: 100 });
    expect(val(parseQueue('100p'))).toEqual({ packets: 100 });
    expect(val(parseQueue('64kb'))).toEqual({ bytes: 64_000 });
    expect(val(parseQueue('50ms'))).toEqual({ ms: 50 });
    expect(msg(parseQueue('1.5 packets'))).toContain('whole number');
    expect(msg(parseQueue('0 packets'))).toContain('greater than zero');
    expect(val(parsePercent('0.5%'))).toBe(0.5);
    expect(val(parsePercent('100%'))).toBe(100);
    expect(msg(parsePercent('100.1%', 'loss'))).toContain('loss must be at most 100%');
    expect(msg(parsePercent('-1%', 'loss'))).toContain('negative');
    expect(msg(parsePercent(0.01))).toContain('ambiguous');
  });
  it('rate round-trips for any positive mbit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => {
        expect(val(parseRate(`${n}kbit`))).toBeCloseTo(n / 1000, 9);
      }),
    );
  });
});

describe('addresses', () => {
  it('parses and formats IPv6 per RFC 5952', () => {
    expect(formatIpv6(parseIpv6('fd00:0:0:1::1')!)).toBe('fd00:0:0:1::1');
    expect(formatIpv6(parseIpv6('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIpv6(parseIpv6('::')!)).toBe('::');
    expect(formatIpv6(parseIpv6('::1')!)).toBe('::1');
    expect(formatIpv6(parseIpv6('2001:DB8::0:1')!)).toBe('2001:db8::1');
    expect(formatIpv6(parseIpv6('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
    expect(parseIpv6('::ffff:10.0.0.1')).toBe(0xffff0a000001n);
    expect(parseIpv6('1::2::3')).toBeUndefined();
    expect(parseIpv6('12345::')).toBeUndefined();
    expect(parseIpValue('10.0.0.256')).toBeUndefined();
    expect(parseIpValue('010.0.0.1')).toBeUndefined();
  });
  it('IPv6 format/parse round-trips', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
        expect(parseIpv6(formatIpv6(v))).toBe(v);
      }),
    );
  });
  it('prefixes and overlap', () => {
    const c = (s: string) => {
      const r = parseCidr(s);
      if (!r.ok) throw new Error(r.message);
      return r.cidr;
    };
    expect(formatSubnet(c('10.1.2.3/16'))).toBe('10.1.0.0/16');
    expect(formatSubnet(c('fd00:9::5/64'))).toBe('fd00:9::/64');
    expect(overlaps(c('10.1.0.0/16'), c('10.1.2.0/24'))).toBe(true);
    expect(overlaps(c('10.1.0.0/24'), c('10.1.1.0/24'))).toBe(false);
    expect(overlaps(c('10.1.0.0/24'), c('fd00::/8'))).toBe(false);
    expect(parseCidr('10.0.0.1/33').ok).toBe(false);
    expect(parseCidr('fd00::1/129').ok).toBe(false);
    expect(parseCidr('10.0.0.1').ok).toBe(false);
    expect(bits(6)).toBe(128);
  });
  it('edit distance', () => {
    expect(editDistance('rate', 'rat')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
