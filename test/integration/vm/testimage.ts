/**
 * A throwaway guest image for the VM tests, built only under the tests' scratch dir while the live
 * image (lab/images/live) is not in this build: Debian's cloud kernel (from the apt cache, or
 * `apt-get download`), and an initramfs of the host's static busybox, node, ip, dropbear and their
 * libraries, whose /init implements the live image's node mode (contract B): modules in order,
 * NICs renamed by MAC, addresses/routes/rules/sysctls from /etc/mplab/node.json, the pinned host key
 * converted for dropbear, `mplab: node ready` on the serial console. Cached by its inputs' hash.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

const MODULES = [
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
  'drivers/char/hw_random/virtio-rng.ko',
  'drivers/net/tun.ko',
];

const BINARIES = [
  '/usr/bin/node',
  '/usr/sbin/ip',
  '/usr/sbin/dropbear',
  '/usr/bin/dropbearconvert',
  '/usr/bin/iperf3',
];

/** node script run by /init: applies /etc/mplab/node.json (contract B). */
const APPLY_JS = `
const fs=require('fs');const {execFileSync:x}=require('child_process');
const c=JSON.parse(fs.readFileSync('/etc/mplab/node.json','utf8'));
const ip=(a)=>{try{x('ip',a,{stdio:'inherit'})}catch(e){console.log('mplab: ip '+a.join(' ')+' failed')}};
const byMac={};for(const d of fs.readdirSync('/sys/class/net')){try{byMac[fs.readFileSync('/sys/class/net/'+d+'/address','utf8').trim()]=d}catch{}}
const mn=c.mgmt.name||'eth0';const m=byMac[c.mgmt.mac];if(m){ip(['link','set','dev',m,'name',mn]);ip(['link','set',mn,'up']);ip(['addr','add',c.mgmt.address,'dev',mn]);}
for(const i of c.interfaces){const d=byMac[i.mac];if(!d){console.log('mplab: no NIC with MAC '+i.mac);continue}
 ip(['link','set','dev',d,'name',i.name]);ip(['link','set','dev',i.name,'mtu',String(i.mtu),'up']);
 for(const a of i.addresses)ip(a.includes(':')?['addr','add',a,'dev',i.name,'nodad']:['addr','add',a,'dev',i.name]);}
for(const [k,v] of Object.entries(c.sysctls||{})){try{fs.writeFileSync('/proc/sys/'+k.replace(/\\./g,'/'),String(v))}catch{console.log('mplab: sysctl '+k+' failed')}}
for(const r of c.routes||[])ip(r);for(const r of c.rules||[])ip(r);
fs.mkdirSync('/etc/dropbear',{recursive:true});fs.writeFileSync('/etc/dropbear/host.openssh',c.sshHostKey,{mode:0o600});
x('dropbearconvert',['openssh','dropbear','/etc/dropbear/host.openssh','/etc/dropbear/host'],{stdio:'ignore'});
fs.mkdirSync('/root/.ssh',{recursive:true,mode:0o700});fs.writeFileSync('/root/.ssh/authorized_keys',c.authorizedKeys.join('\\n')+'\\n',{mode:0o600});
fs.writeFileSync('/etc/hostname',c.hostname+'\\n');x('hostname',[c.hostname]);
`;

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /tmp; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
for m in $(cat /etc/modules.order); do insmod /lib/modules/$m 2>/dev/null; done
ip link set lo up
sleep 0.3
node /etc/mplab-apply.js
dropbear -r /etc/dropbear/host -s -p 22 -P /run/dropbear.pid
echo "mplab: node ready" > /dev/console
exec setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'
`;

function hashOf(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
}

function kernelDeb(work: string): string {
  const cache = '/var/cache/apt/archives';
  const found = existsSync(cache)
    ? readdirSync(cache).find((f) => /^linux-image-[0-9.-]+-cloud-amd64_.*\.deb$/.test(f))
    : undefined;
  if (found) return join(cache, found);
  execFileSync('apt-get', ['download', 'linux-image-cloud-amd64'], { cwd: work, stdio: 'ignore' });
  const meta = readdirSync(work).find((f) => f.startsWith('linux-image-cloud-amd64_'));
  if (!meta) throw new Error('cannot download linux-image-cloud-amd64');
  const dep = execFileSync('dpkg-deb', ['-f', join(work, meta), 'Depends'], { encoding: 'utf8' })
    .trim()
    .split(/[ ,]/)[0];
  execFileSync('apt-get', ['download', dep as string], { cwd: work, stdio: 'ignore' });
  const deb = readdirSync(work).find((f) => f.startsWith(`${dep}_`));
  if (!deb) throw new Error(`cannot download ${dep}`);
  return join(work, deb);
}

function libsOf(bin: string): string[] {
  const out = execFileSync('ldd', [bin], { encoding: 'utf8' });
  return [...out.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1] as string);
}

/** Builds (or reuses) the test image; returns its kernel and initramfs paths. */
export function testImage(): { kernel: string; initrd: string } {
  const base = join(process.env.MPLAB_VM_TEST_CACHE ?? join(tmpdir(), 'mplab-vm-test-image'));
  mkdirSync(base, { recursive: true });
  const work = join(base, 'work');
  mkdirSync(work, { recursive: true });
  const deb = kernelDeb(work);
  const key = hashOf([
    deb,
    INIT,
    APPLY_JS,
    ...BINARIES.map((b) => `${b}:${statSync(b).size}`),
    MODULES.join(),
  ]);
  const out = join(base, key);
  const kernel = join(out, 'vmlinuz');
  const initrd = join(out, 'initrd.img');
  if (existsSync(initrd) && existsSync(kernel)) return { kernel, initrd };
  rmSync(out, { recursive: true, force: true });
  const kx = join(out, 'kernel');
  const root = join(out, 'root');
  mkdirSync(kx, { recursive: true });
  execFileSync('dpkg-deb', ['-x', deb, kx]);
  const vmlinuz = readdirSync(join(kx, 'boot')).find((f) => f.startsWith('vmlinuz-')) as string;
  copyFileSync(join(kx, 'boot', vmlinuz), kernel);
  const kver = vmlinuz.slice('vmlinuz-'.length);
  for (const d of [
    'bin',
    'sbin',
    'etc',
    'proc',
    'sys',
    'dev',
    'run',
    'tmp',
    'root',
    'lib/modules',
    'usr/bin',
    'var/log',
  ])
    mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/usr/bin/busybox', join(root, 'bin/busybox'));
  const libs = new Set<string>();
  for (const b of BINARIES) {
    copyFileSync(b, join(root, 'usr/bin', basename(b)));
    for (const l of libsOf(b)) libs.add(l);
  }
  for (const l of libs) {
    mkdirSync(join(root, dirname(l)), { recursive: true });
    copyFileSync(l, join(root, l));
  }
  const order: string[] = [];
  for (const m of MODULES) {
    const src = join(kx, 'lib/modules', kver, 'kernel', m);
    if (!existsSync(src)) continue;
    copyFileSync(src, join(root, 'lib/modules', basename(m)));
    order.push(basename(m));
  }
  writeFileSync(join(root, 'etc/modules.order'), `${order.join('\n')}\n`);
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(root, 'etc/mplab-apply.js'), APPLY_JS);
  writeFileSync(join(root, 'init'), INIT, { mode: 0o755 });
  execFileSync('sh', ['-c', `cd ${root} && find . | cpio -o -H newc --quiet | gzip -1 > ${initrd}`]);
  rmSync(kx, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  return { kernel, initrd };
}
