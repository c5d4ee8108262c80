/**
 * The live image in node mode, for real: the kernel + initramfs booted by QEMU (TCG) with a node
 * config archive appended the way VM labs do it (contract B), NICs renamed by MAC and addressed,
 * dropbear up with the lab's host key; the test logs in with ssh2 pinning that key, and runs
 * `node --version` and `ip mptcp limits show` inside. A wrong pinned key is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuBoot } from '../../../lab/images/live/boot';
import { freePort } from '../../../lab/vm/qemu';
import type { LiveImage } from '../../../lab/images/live/build';
import { writeNodeInitrd } from '../../../lab/images/live/node-config';
import { caps } from '../../helpers/caps';

const { Client } = ssh2;
type Client = InstanceType<typeof Client>;
import { liveImage } from './image';
import { generateKeyPair } from '../../../lab/vm/keys';

function keyBlob(openSshPublic: string): Buffer {
  return Buffer.from(openSshPublic.trim().split(/\s+/)[1] ?? '', 'base64');
}

function connect(port: number, privateKey: string, pinned: Buffer): Promise<Client> {
  return new Promise((res, rej) => {
    const c = new Client();
    c.once('ready', () => res(c));
    c.on('error', rej);
    c.connect({
      host: '127.0.0.1',
      port,
      username: 'root',
      privateKey,
      readyTimeout: 60_000,
      hostVerifier: (key: Buffer) => key.equals(pinned),
    });
  });
}

function exec(c: Client, cmd: string): Promise<{ code: number; out: string }> {
  return new Promise((res, rej) => {
    c.exec(cmd, (err, ch) => {
      if (err) return rej(err);
      let out = '';
      ch.on('data', (d: Buffer) => {
        out += d.toString();
      });
      ch.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      ch.once('close', (code: number) => res({ code, out }));
    });
  });
}

describe.skipIf(!caps.qemu || !caps.liveBuild)('live image, node mode', () => {
  let image: LiveImage;
  let work: string;
  let vm: QemuBoot | undefined;
  let port: number;
  const host = generateKeyPair('mplab-test-host');
  const user = generateKeyPair('mplab-test-user');

  beforeAll(async () => {
    image = await liveImage();
    work = mkdtempSync(join(tmpdir(), 'mplab-live-node-'));
    // QEMU takes one -initrd: the node's config archive, then the image's (as VM labs boot it).
    const initrd = join(work, 'vm.img');
    writeNodeInitrd(
      image.initrd,
      {
        hostname: 'livetest',
        mgmt: { mac: '52:54:00:4c:00:01', address: '10.254.254.15/24', gateway: '10.254.254.2' },
        interfaces: [{ mac: '52:54:00:4c:00:02', name: 'wifi', mtu: 1400, addresses: ['10.0.1.1/24'] }],
        routes: [['route', 'add', '10.9.0.0/16', 'via', '10.0.1.254']],
        rules: [['rule', 'add', 'from', '10.0.1.1', 'table', '101']],
        sysctls: { 'net.ipv4.ip_forward': '1' },
        sshHostKey: host.private,
        authorizedKeys: [user.public],
      },
      initrd,
    );
    port = await freePort();
    vm = QemuBoot.start({
      kernel: image.kernel,
      initrd,
      append: 'console=ttyS0 mplab.mode=node panic=-1',
      args: [
        '-netdev',
        `user,id=mgmt,net=10.254.254.0/24,host=10.254.254.2,hostfwd=tcp:127.0.0.1:${port}-:22`,
        '-device',
        'virtio-net-pci,netdev=mgmt,mac=52:54:00:4c:00:01',
        '-netdev',
        'user,id=lab,restrict=on',
        '-device',
        'virtio-net-pci,netdev=lab,mac=52:54:00:4c:00:02',
      ],
    });
    await vm.waitFor(/mplab: node ready/, 120_000);
  }, 600_000);

  afterAll(async () => {
    await vm?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('logs in over SSH with the pinned host key and runs node and ip mptcp', async () => {
    const c = await connect(port, user.private, keyBlob(host.public));
    try {
      const v = await exec(c, 'node --version');
      expect(v.code).toBe(0);
      expect(v.out.trim()).toBe(process.version);
      const m = await exec(c, 'ip mptcp limits show');
      expect(m.code).toBe(0);
      expect(m.out).toMatch(/subflows? \d+/);
      const a = await exec(
        c,
        'hostname; ip -o addr show dev wifi; ip -o link show dev wifi; ip rule; ip route; cat /proc/sys/net/ipv4/ip_forward',
      );
      expect(a.out).toMatch(/^livetest$/m);
      expect(a.out).toMatch(/inet 10\.0\.1\.1\/24/);
      expect(a.out).toMatch(/mtu 1400/);
      expect(a.out).toMatch(/from 10\.0\.1\.1 lookup 101/);
      expect(a.out).toMatch(/10\.9\.0\.0\/16 via 10\.0\.1\.254/);
      expect(a.out).toMatch(/^1$/m);
      const t = await exec(c, 'tc qdisc add dev wifi root netem delay 5ms && tc qdisc show dev wifi');
      expect(t.out).toMatch(/netem .*delay 5ms/);
    } finally {
      c.end();
    }
  });

  it('refuses a host whose key is not the pinned one', async () => {
    const other = generateKeyPair('mplab-test-other');
    await expect(connect(port, user.private, keyBlob(other.public))).rejects.toThrow();
  });
});
