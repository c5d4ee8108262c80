// The pure parts of the VM backend: memory sizes, boot configuration, the config archive, QEMU's
// command line, the host-side joins, the accelerator probe's boot sector.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostSideLines, joinLines } from '../../../lab/backends/vm/index';
import { parseTopology } from '../../../lab/topology';
import { probeBootSector } from '../../../lab/vm/accel';
import { cpioArchive } from '../../../lab/images/live/cpio';
import { bootConfigOf, vmMac } from '../../../lab/vm/bootconfig';
import { qemuArgs, vmFiles } from '../../../lab/vm/qemu';
import { memoryProblem, parseMemory } from '../../../lab/vm/spec';

const model = parseTopology(
  [
    'name: t',
    'defaults:',
    '  node: { backend: vm }',
    'nodes:',
    '  a: {}',
    '  r: { kind: router }',
    '  b: {}',
    'links:',
    '  - endpoints: [a:eth1, r:eth1]',
    '  - endpoints: [r:eth2, b:eth1]',
    '  - endpoints: [a:eth2, b:eth2]',
  ].join('\n'),
  '/tmp/t.yaml',
);
const node = (n: string) => model.nodes.find((x) => x.name === n)!;

describe('memory', () => {
  it('parses sizes in MiB', () => {
    expect(parseMemory('512mb')).toEqual({ ok: true, value: 512 });
    expect(parseMemory('512MiB')).toEqual({ ok: true, value: 512 });
    expect(parseMemory('1g')).toEqual({ ok: true, value: 1024 });
    expect(parseMemory('1.5G')).toEqual({ ok: true, value: 1536 });
    expect(parseMemory(384)).toEqual({ ok: true, value: 384 });
    expect(parseMemory('100b').ok).toBe(false);
    expect(parseMemory('1.3m').ok).toBe(false);
    expect(parseMemory('x').ok).toBe(false);
    expect(memoryProblem(128)).toMatch(/below/);
    expect(memoryProblem(512)).toBeUndefined();
  });
});

describe('boot configuration', () => {
  const cfg = bootConfigOf('t', node('a'), { hostPrivateKey: 'PRIV', authorizedKey: 'ssh-ed25519 AAAA lab' });
  it('carries the planned interfaces, addresses, routes and rules', () => {
    expect(cfg.hostname).toBe('a');
    expect(cfg.interfaces.map((i) => [i.name, i.mac, i.addresses])).toEqual(
      node('a').interfaces.map((i) => [i.name, i.mac, i.addresses.map((x) => `${x.address}/${x.prefix}`)]),
    );
    expect(cfg.routes.length).toBe(node('a').routes.length);
    for (const r of cfg.routes) expect(r.slice(0, 2)).toEqual(['route', 'replace']);
    expect(cfg.rules).toEqual(
      node('a').rules.map((r) => [
        'rule',
        'add',
        'from',
        r.from,
        'lookup',
        String(r.table),
        'priority',
        String(r.priority),
      ]),
    );
    expect(cfg.sshHostKey).toBe('PRIV');
    expect(cfg.authorizedKeys).toEqual(['ssh-ed25519 AAAA lab']);
    expect(cfg.mgmt.address).toBe('10.254.254.15/24');
  });
  it('a router forwards', () => {
    const r = bootConfigOf('t', node('r'), { hostPrivateKey: 'k', authorizedKey: 'p' });
    expect(r.sysctls['net.ipv4.ip_forward']).toBe('1');
  });
  it('MACs are stable, unicast, and differ per node and interface', () => {
    expect(vmMac('t', 'a', 'x')).toBe(vmMac('t', 'a', 'x'));
    expect(vmMac('t', 'a', 'x')).not.toBe(vmMac('t', 'b', 'x'));
    expect(vmMac('t', 'a', 'x')).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
  });
});

describe('config archive', () => {
  it('is a newc archive cpio(1) lists and extracts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mplab-cpio-'));
    try {
      const data = Buffer.from('{"hostname":"a"}\n');
      writeFileSync(
        join(dir, 'x.cpio'),
        cpioArchive([
          { kind: 'dir', path: 'etc', mode: 0o755 },
          { kind: 'dir', path: 'etc/mplab', mode: 0o700 },
          { kind: 'file', path: 'etc/mplab/node.json', mode: 0o600, data },
        ]),
      );
      const list = execFileSync('cpio', ['-it', '--quiet', '-F', join(dir, 'x.cpio')], { encoding: 'utf8' });
      expect(list.trim().split('\n')).toEqual(['etc', 'etc/mplab', 'etc/mplab/node.json']);
      execFileSync('cpio', ['-id', '--quiet', '-F', join(dir, 'x.cpio')], { cwd: dir });
      expect(execFileSync('cat', [join(dir, 'etc/mplab/node.json')], { encoding: 'utf8' })).toBe(
        data.toString(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('QEMU command line', () => {
  const files = vmFiles('/run/mplab/t', 'a');
  const args = qemuArgs({
    name: 'mplab-t-a',
    accel: 'tcg',
    memoryMib: 512,
    cpus: 2,
    kernel: '/k',
    initrd: files.initrd,
    files,
    sshPort: 40000,
    mgmtMac: '52:54:00:00:00:01',
    nics: [
      { mac: '02:00:00:00:00:01', mtu: 1500 },
      { mac: '02:00:00:00:00:02', mtu: 9000 },
    ],
  });
  const valuesOf = (flag: string) => args.filter((_, i) => args[i - 1] === flag);
  it('is headless, restricted, and hands each TAP over by fd', () => {
    expect(valuesOf('-display')).toEqual(['none']);
    expect(valuesOf('-accel')).toEqual(['tcg']);
    expect(valuesOf('-m')).toEqual(['512M']);
    expect(valuesOf('-smp')).toEqual(['2']);
    expect(args).toContain('-no-reboot');
    expect(valuesOf('-netdev')).toEqual([
      'user,id=mgmt,net=10.254.254.0/24,host=10.254.254.2,restrict=on,hostfwd=tcp:127.0.0.1:40000-:22',
      'tap,id=n0,fd=3',
      'tap,id=n1,fd=4',
    ]);
    expect(valuesOf('-device')).toContain(
      'virtio-net-pci,netdev=n1,id=nic1,mac=02:00:00:00:00:02,host_mtu=9000',
    );
    expect(valuesOf('-qmp')).toEqual([`unix:${files.qmp},server=on,wait=off`]);
    expect(valuesOf('-chardev')[0]).toContain(`logfile=${files.serial}`);
    expect(valuesOf('-append')[0]).toMatch(/^console=ttyS0 mplab\.mode=node/);
  });
});

describe('host side of a VM node', () => {
  it('ends get no address, TAPs are joined both ways, down links stay down', () => {
    const a = node('a');
    const lines = hostSideLines('t', a, new Set(['eth2']));
    expect(lines.some((l) => l.includes('addr add'))).toBe(false);
    expect(lines).toContain('link set dev eth1 up');
    expect(lines).not.toContain('link set dev eth2 up');
    expect(lines).toContain('link set dev vt1 mtu 1500 up');
    const j = joinLines(a);
    expect(j).toContain(
      'filter add dev eth1 parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev vt0',
    );
    expect(j).toContain(
      'filter add dev vt0 parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev eth1',
    );
    expect(j.filter((l) => l.startsWith('qdisc add')).length).toBe(4);
  });
});

describe('accelerator probe', () => {
  it('is one boot sector that writes KVM to COM1', () => {
    const s = probeBootSector();
    expect(s.length).toBe(512);
    expect(s.readUInt16LE(510)).toBe(0xaa55);
    expect(s.subarray(0, 3)).toEqual(Buffer.from([0xba, 0xf8, 0x03]));
  });
});
