/**
 * The live image: how long it takes to build, how fast it boots, how big the ISO is.
 *
 * Boot figures (QEMU, TCG — this machine's KVM does not run guests — one vCPU, 1 GiB) share one
 * baseline, measured in the same run: the floor for this kernel under this accelerator, i.e. the
 * same kernel booted with a busybox-only initramfs whose /init prints one line. Ours:
 * - boot to SSH ready: node mode with a node config archive, until an ssh2 login runs `true`;
 * - boot to demo start: demo mode (direct kernel boot, no GRUB menu), until the demo's first line.
 * Build figures, against the best script for the same job (apt-get download + dpkg-deb -x of the
 * same packages, node copied in, `find | cpio -H newc | zstd`), each from an empty directory:
 * - cold: an empty package cache (ours downloads, unpacks and packs; so does the script);
 * - warm: ours with its cache filled and no input changed (a no-op) against the script re-run
 *   with its .debs already downloaded (its best case).
 * Size: our ISO against an ISO of the floor made the same way (grub-mkrescue).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { projectRoot } from '../lab/images/build';
import { type BootOptions, QemuBoot } from '../lab/images/live/boot';
import { freePort } from '../lab/vm/qemu';
import { buildLiveImage, type LiveImage } from '../lab/images/live/build';
import { cpioArchive } from '../lab/images/live/cpio';
import { buildIso } from '../lab/images/live/iso';
import { writeNodeInitrd } from '../lab/images/live/node-config';
import { BUILD_TOOLS, BOOT_TOOLS, ISO_TOOLS, missingTools } from '../lab/images/live/tools';
import { type BenchFigure, type BenchModule, type BenchOptions, repeat } from './harness';
import { generateKeyPair } from '../lab/vm/keys';

const { Client } = ssh2;

/** The floor: busybox-only initramfs, /init prints one line and powers off. */
function floorInitrd(busybox: string, out: string): void {
  writeFileSync(
    out,
    cpioArchive([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: 'bin/busybox', mode: 0o755, data: readFileSync(busybox) },
      { kind: 'dir', path: 'dev' },
      { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      {
        kind: 'file',
        path: 'init',
        mode: 0o755,
        data: Buffer.from('#!/bin/busybox sh\necho "floor: init reached"\n/bin/busybox poweroff -f\n'),
      },
    ]),
  );
}

async function bootSeconds(opts: BootOptions, re: RegExp): Promise<number> {
  const vm = QemuBoot.start(opts);
  try {
    return await vm.waitFor(re, 300_000);
  } finally {
    await vm.stop();
  }
}

function sshOnce(port: number, key: string, hostKey: Buffer): Promise<boolean> {
  return new Promise((res) => {
    const c = new Client();
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      c.end();
      res(ok);
    };
    c.once('ready', () =>
      c.exec('true', (err, ch) => {
        if (err) return done(false);
        ch.once('close', (code: number) => done(code === 0));
        ch.resume();
      }),
    );
    // a guest still booting drops connections in several ways; each is just "not yet"
    c.on('error', () => done(false));
    c.once('close', () => done(false));
    c.connect({
      host: '127.0.0.1',
      port,
      username: 'root',
      privateKey: key,
      readyTimeout: 5000,
      hostVerifier: (k: Buffer) => k.equals(hostKey),
    });
  });
}

async function sshReadySeconds(image: LiveImage, work: string): Promise<number> {
  const host = generateKeyPair('mplab-bench-host');
  const user = generateKeyPair('mplab-bench-user');
  const initrd = join(work, 'vm.img');
  writeNodeInitrd(
    image.initrd,
    {
      hostname: 'bench',
      mgmt: { mac: '52:54:00:be:00:01', address: '10.254.254.15/24', gateway: '10.254.254.2' },
      sshHostKey: host.private,
      authorizedKeys: [user.public],
    },
    initrd,
  );
  const port = await freePort();
  const vm = QemuBoot.start({
    kernel: image.kernel,
    initrd,
    append: 'console=ttyS0 mplab.mode=node quiet',
    args: [
      '-netdev',
      `user,id=m,net=10.254.254.0/24,host=10.254.254.2,hostfwd=tcp:127.0.0.1:${port}-:22`,
      '-device',
      'virtio-net-pci,netdev=m,mac=52:54:00:be:00:01',
    ],
  });
  const blob = Buffer.from(host.public.split(' ')[1] ?? '', 'base64');
  try {
    for (;;) {
      if (vm.elapsed() > 300) throw new Error(`no SSH after 300 s; console:\n${vm.output.slice(-2000)}`);
      if (await sshOnce(port, user.private, blob)) return vm.elapsed();
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await vm.stop();
  }
}

/** The script baseline: the same packages fetched, unpacked and packed with standard tools. */
function scriptBuild(dir: string, packages: string[], debs?: string): number {
  const t = performance.now();
  const script = `
set -e
cd "$1"; shift
mkdir -p debs root/usr/bin
if [ -n "$DEBS" ]; then cp "$DEBS"/*.deb debs/; else (cd debs && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null); fi
for d in debs/*.deb; do dpkg-deb -x "$d" root; done
cp "$(command -v node)" root/usr/bin/node
(cd root && find . | cpio -o -H newc --quiet | zstd -q -T0 -9 -o ../initrd.img)
`;
  execFileSync('sh', ['-c', script, 'sh', dir, ...packages], { env: { ...process.env, DEBS: debs ?? '' } });
  return (performance.now() - t) / 1000;
}

const mod: BenchModule = {
  name: 'image',
  async available() {
    const missing = missingTools([...BUILD_TOOLS, ...ISO_TOOLS, ...BOOT_TOOLS]);
    if (missing.length) return `needs ${missing.map((t) => `${t.what} (${t.pkg})`).join(', ')}`;
    return true;
  },
  async run(o: BenchOptions): Promise<BenchFigure[]> {
    const root = projectRoot();
    const work = mkdtempSync(join(tmpdir(), 'mplab-bench-image-'));
    try {
      // Build: cold (fresh caches) and warm, ours and the script's, interleaved.
      const coldOurs: number[] = [];
      const coldScript: number[] = [];
      const warmOurs: number[] = [];
      const warmScript: number[] = [];
      let image: LiveImage | undefined;
      let pkgNames: string[] = [];
      for (let i = 0; i < o.repetitions; i++) {
        const cache = join(work, `cache-${i}`);
        const t = performance.now();
        image = await buildLiveImage({ root, cacheDir: cache, iso: true });
        coldOurs.push((performance.now() - t) / 1000);
        const t2 = performance.now();
        const again = await buildLiveImage({ root, cacheDir: cache, iso: true });
        if (again.built) throw new Error('a rebuild with unchanged inputs built again');
        warmOurs.push((performance.now() - t2) / 1000);
        pkgNames = image.manifest.inputs
          .filter((x) => x.source === 'debian')
          .map((x) => `${x.what}=${x.version}`);
        const sdir = join(work, `script-${i}`);
        execFileSync('mkdir', ['-p', sdir]);
        coldScript.push(scriptBuild(sdir, pkgNames));
        const sdir2 = join(work, `script-warm-${i}`);
        execFileSync('mkdir', ['-p', sdir2]);
        warmScript.push(scriptBuild(sdir2, pkgNames, join(sdir, 'debs')));
        if (i < o.repetitions - 1) rmSync(cache, { recursive: true, force: true });
        rmSync(sdir, { recursive: true, force: true });
        rmSync(sdir2, { recursive: true, force: true });
      }
      const img = image as LiveImage;

      // Boot: the floor, SSH ready and demo start, interleaved.
      const unpacked = join(work, `cache-${o.repetitions - 1}`, 'unpacked');
      const bbDir = readdirSync(unpacked).find((d) => d.startsWith('busybox-static-'));
      if (!bbDir) throw new Error('busybox-static not unpacked');
      const floor = join(work, 'floor.img');
      floorInitrd(join(unpacked, bbDir, 'bin', 'busybox'), floor);
      const floorS: number[] = [];
      const sshS: number[] = [];
      const demoS: number[] = [];
      await repeat(o.repetitions, async () => {
        floorS.push(
          await bootSeconds(
            { kernel: img.kernel, initrd: floor, append: 'console=ttyS0 quiet' },
            /floor: init reached/,
          ),
        );
        sshS.push(await sshReadySeconds(img, work));
        demoS.push(
          await bootSeconds(
            { kernel: img.kernel, initrd: img.initrd, append: 'console=ttyS0 quiet mplab.mode=demo' },
            /mplab demo: the IETF 80/,
          ),
        );
        return 0;
      });

      // Size: our ISO and the floor's, made the same way.
      const floorIso = join(work, 'floor.iso');
      await buildIso({ kernel: img.kernel, initrd: floor, out: floorIso, version: 'floor' });
      const isoMb = statSync(img.iso as string).size / 1e6;
      const floorMb = statSync(floorIso).size / 1e6;
      const boot = 'QEMU TCG, 1 vCPU, 1 GiB; seconds from QEMU start';
      return [
        {
          id: 'image.boot_ssh_ready_s',
          title: 'boot to SSH ready (node mode, ssh2 login runs true)',
          ours: { label: 'live image, node mode', unit: 's', values: sshS },
          baseline: { label: 'same kernel, busybox-only initramfs, first line', unit: 's', values: floorS },
          higherIsBetter: false,
          note: `${boot}; aim: within 2x the floor`,
        },
        {
          id: 'image.boot_demo_start_s',
          title: "boot to the demo's first line (demo mode, direct kernel boot)",
          ours: { label: 'live image, demo mode', unit: 's', values: demoS },
          baseline: { label: 'same kernel, busybox-only initramfs, first line', unit: 's', values: floorS },
          higherIsBetter: false,
          note: `${boot}; from the ISO add GRUB's 3 s menu timeout`,
        },
        {
          id: 'image.build_cold_s',
          title: 'live image build from an empty package cache (kernel, initramfs, ISO)',
          ours: { label: 'mplab image build --live', unit: 's', values: coldOurs },
          baseline: {
            label: 'apt-get download + dpkg-deb -x + cpio | zstd (no ISO)',
            unit: 's',
            values: coldScript,
          },
          higherIsBetter: false,
          note: `${pkgNames.length} Debian packages; ours also makes the ISO, the script does not`,
        },
        {
          id: 'image.build_warm_s',
          title: 'live image rebuild, nothing changed',
          ours: { label: 'mplab image build --live (cache hit)', unit: 's', values: warmOurs },
          baseline: { label: 'the script with its .debs already downloaded', unit: 's', values: warmScript },
          higherIsBetter: false,
        },
        {
          id: 'image.iso_mb',
          title: 'ISO size',
          ours: { label: 'mplab live ISO', unit: 'MB', values: [isoMb] },
          baseline: {
            label: 'ISO of the same kernel + busybox-only initramfs',
            unit: 'MB',
            values: [floorMb],
          },
          higherIsBetter: false,
          note: `initramfs ${(img.manifest.initrdBytes / 1e6).toFixed(1)} MB zstd (Node.js is most of it)`,
        },
      ];
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

export default mod;
