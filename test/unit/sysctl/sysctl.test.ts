import { describe, expect, it } from 'vitest';
import { KNOBS, Sysctl, SysctlError } from '../../../stack/sysctl';

describe('sysctl registry', () => {
  it('has the defaults the design names', () => {
    const s = new Sysctl();
    expect(s.get('net.mptcp.mptcp_enabled')).toBe(1);
    expect(s.get('net.mptcp.mptcp_ndiffports')).toBe(1);
    expect(s.get('net.mptcp.mptcp_mss')).toBe(0);
    expect(s.get('net.mptcp.mptcp_checksum')).toBe(0);
    expect(s.get('net.mptcp.mptcp_scheduler')).toBe('default');
    expect(s.get('net.mptcp.mptcp_cc')).toBe('lia');
    expect(s.get('net.mptcp.mptcp_trigger_bytes')).toBe(0);
    expect(s.get('net.mptcp.mptcp_trigger_ms')).toBe(0);
    expect(s.getTriple('net.ipv4.tcp_rmem')).toEqual([4096, 131072, 6291456]);
    for (const n of [
      'net.mptcp.mptcp_path_manager',
      'net.mptcp.mptcp_syn_retries',
      'net.mptcp.mptcp_add_addr_timeout',
      'net.ipv4.tcp_wmem',
      'net.ipv4.tcp_congestion_control',
    ])
      expect(s.has(n)).toBe(true);
  });

  it('accepts /proc paths and string values', () => {
    const s = new Sysctl();
    expect(s.set('/proc/sys/net/mptcp/mptcp_ndiffports', '4')).toBe(4);
    expect(s.get('net.mptcp.mptcp_ndiffports')).toBe(4);
    expect(s.set('net/mptcp/mptcp_scheduler', 'roundrobin')).toBe('roundrobin');
    expect(s.set('net.ipv4.tcp_rmem', '4096 65536 1048576')).toBe('4096 65536 1048576');
    expect(s.set('net.ipv4.tcp_wmem', [8192, 16384, 32768])).toBe('8192 16384 32768');
    expect(s.getTriple('net.ipv4.tcp_wmem')).toEqual([8192, 16384, 32768]);
  });

  it('refuses an unknown name, suggesting the closest and listing valid names', () => {
    const s = new Sysctl();
    let err: unknown;
    try {
      s.set('net.mptcp.mptcp_ndifports', 2);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SysctlError);
    const msg = (err as SysctlError).message;
    expect((err as SysctlError).code).toBe('ENOENT');
    expect(msg).toContain('Did you mean net.mptcp.mptcp_ndiffports?');
    for (const k of KNOBS) expect(msg).toContain(k.name);
    expect(() => s.get('net.core.nonsense_knob_xyz')).toThrow(/Valid names: /);
    expect(() => s.get('net.core.nonsense_knob_xyz')).not.toThrow(/Did you mean/);
  });

  it('refuses bad values, stating the allowed range or values', () => {
    const s = new Sysctl();
    expect(() => s.set('net.mptcp.mptcp_ndiffports', 0)).toThrow(/1\.\.32/);
    expect(() => s.set('net.mptcp.mptcp_ndiffports', 33)).toThrow(/1\.\.32/);
    expect(() => s.set('net.mptcp.mptcp_ndiffports', 2.5)).toThrow(SysctlError);
    expect(() => s.set('net.mptcp.mptcp_ndiffports', 'four')).toThrow(/integer/);
    expect(() => s.set('net.mptcp.mptcp_mss', 100)).toThrow(/536\.\.65495 or 0/);
    expect(s.set('net.mptcp.mptcp_mss', 0)).toBe(0);
    expect(s.set('net.mptcp.mptcp_mss', 1400)).toBe(1400);
    expect(() => s.set('net.mptcp.mptcp_scheduler', 'fastest')).toThrow(/default, roundrobin, redundant/);
    expect(() => s.set('net.mptcp.mptcp_cc', 'vegas')).toThrow(/lia, olia, balia, reno, cubic/);
    expect(() => s.set('net.mptcp.mptcp_path_manager', 'x')).toThrow(/default, fullmesh, ndiffports/);
    expect(() => s.set('net.mptcp.mptcp_enabled', 2)).toThrow(/0\.\.1/);
    expect(() => s.set('net.ipv4.tcp_rmem', '4096 1 2')).toThrow(/min <= default <= max/);
    expect(() => s.set('net.ipv4.tcp_rmem', '4096 8192')).toThrow(SysctlError);
    // A refused value leaves the old one in place.
    expect(s.get('net.mptcp.mptcp_ndiffports')).toBe(1);
    expect(s.get('net.mptcp.mptcp_scheduler')).toBe('default');
  });

  it('is per instance and notifies listeners of real changes only', () => {
    const a = new Sysctl();
    const b = new Sysctl({ 'net.mptcp.mptcp_enabled': 0 });
    expect(a.get('net.mptcp.mptcp_enabled')).toBe(1);
    expect(b.get('net.mptcp.mptcp_enabled')).toBe(0);
    const seen: [string, unknown, unknown][] = [];
    const off = a.onChange((n, v, p) => seen.push([n, v, p]));
    a.set('net.mptcp.mptcp_cc', 'olia');
    a.set('net.mptcp.mptcp_cc', 'olia');
    a.reset('net.mptcp.mptcp_cc');
    off();
    a.set('net.mptcp.mptcp_cc', 'balia');
    expect(seen).toEqual([
      ['net.mptcp.mptcp_cc', 'olia', 'lia'],
      ['net.mptcp.mptcp_cc', 'lia', 'olia'],
    ]);
  });

  it('lists every knob with value, default, allowed values and description', () => {
    const s = new Sysctl();
    const l = s.list();
    expect(l.map((x) => x.name)).toEqual([...KNOBS.map((k) => k.name)].sort());
    for (const e of l) {
      expect(e.description.length).toBeGreaterThan(10);
      expect(e.allowed.length).toBeGreaterThan(5);
      expect(e.value).toEqual(e.default);
    }
    expect(Object.keys(s.snapshot()).length).toBe(KNOBS.length);
  });
});
