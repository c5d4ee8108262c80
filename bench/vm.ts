/**
 * VM labs: a two-VM lab's `up` (both VMs booted, agents in the guests answering) and `down`, beside
 * the baseline a skilled user would time by hand in the same run: a bare `qemu-system-x86_64 -kernel
 * … -initrd …` boot of the same image (same accelerator, memory, node configuration archive, no lab
 * NICs) until its SSH server answers with the pinned key. The two VMs of the lab boot in parallel,
 * so the aim is lab up ≤ 1.3× one bare boot. The guest image is the live image when this build has
 * it, else the VM tests' throwaway image (the note says which).
 *
 * Goodput between the two VMs on their unshaped links: our stack (the agents in the guests) beside
 * the guest kernel's MPTCP between the same VMs, in the same lab (the kernel end runs in each guest
 * over SSH; both guests get the in-kernel path manager's endpoints a `stack: kernel` node would).
 *
 * MPLAB_BENCH_VM_ACCEL=auto|kvm|tcg picks the accelerator (default auto: the KVM probe decides).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentScript } from '../lab/agents';
import { ensureLiveImage } from '../lab/images/live/index';
import { kernelConfig, Lab } from '../lab/lab';
import { SshSession } from '../lab/remote/ssh';
import { chooseAccel } from '../lab/vm/accel';
import { bootConfigOf } from '../lab/vm/bootconfig';
import { writeVmInitrd } from '../lab/vm/image';
import { generateKeyPair } from '../lab/vm/keys';
import { findQemu, freePort, qemuArgs, serialSaysReady, spawnQemu, vmFiles } from '../lab/vm/qemu';
import { parseTopology } from '../lab/topology';
import { testImage } from '../test/integration/vm/testimage';
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { repeat } from './harness';

const MEMORY = 512;

/** How long each goodput run sends. */
const RUN_MS = { quick: 5000, full: 10_000 };

function benchAccel(): 'auto' | 'kvm' | 'tcg' {
  const v = process.env.MPLAB_BENCH_VM_ACCEL ?? 'auto';
  if (v !== 'auto' && v !== 'kvm' && v !== 'tcg')
    throw new Error(`MPLAB_BENCH_VM_ACCEL must be auto, kvm or tcg, got "${v}"`);
  return v;
}

function topology(
  name: string,
  img: { kernel: string; initrd: string } | undefined,
  accel: 'kvm' | 'tcg',
): string {
  const vm = img
    ? `{ memory: ${MEMORY}mb, accel: ${accel}, kernel: ${img.kernel}, initrd: ${img.initrd} }`
    : `{ memory: ${MEMORY}mb, accel: ${accel} }`;
  return [
    `name: ${name}`,
    'defaults:',
    `  node: { backend: vm, vm: ${vm} }`,
    'nodes:',
    '  a: {}',
    '  b: {}',
    'links:',
    '  - endpoints: [a:eth1, b:eth1]',
    '  - endpoints: [a:eth2, b:eth2]',
  ].join('\n');
}

/** One bare QEMU boot of the image with a node config, to SSH answering; its wall time in ms. */
async function bareBoot(
  img: { kernel: string; initrd: string },
  accel: 'kvm' | 'tcg',
  dir: string,
  i: number,
): Promise<number> {
  const name = `bare${i}`;
  const files = vmFiles(dir, name);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(files.dir, { recursive: true });
  const host = generateKeyPair('bench-host');
  const client = generateKeyPair('bench-client');
  const node = parseTopology(['name: bb', 'nodes:', '  a: {}'].join('\n'), join(dir, 'x.yaml')).nodes[0];
  if (!node) throw new Error('no node');
  const cfg = bootConfigOf('bench', node, { hostPrivateKey: host.private, authorizedKey: client.public });
  await writeVmInitrd(img.initrd, cfg, files.initrd);
  const port = await freePort();
  const args = qemuArgs({
    name: `mplab-bench-${name}`,
    accel,
    memoryMib: MEMORY,
    cpus: 1,
    kernel: img.kernel,
    initrd: files.initrd,
    files,
    sshPort: port,
    mgmtMac: cfg.mgmt.mac,
    nics: [],
  });
  const t0 = performance.now();
  const pid = spawnQemu(findQemu()?.binary ?? 'qemu-system-x86_64', args, [], files.log);
  try {
    while (!serialSaysReady(files.serial)) {
      if (existsSync(files.serial) && readFileSync(files.serial, 'latin1').includes('mplab: node failed'))
        throw new Error(`bare boot failed: ${readFileSync(files.serial, 'latin1').slice(-400)}`);
      if (performance.now() - t0 > 300_000)
        throw new Error(`bare boot: not ready: ${readFileSync(files.serial, 'latin1').slice(-400)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (;;) {
      try {
        const s = await SshSession.connect(
          { host: '127.0.0.1', port, user: 'root', privateKey: client.private, hostKey: host.public },
          { timeoutMs: 5000 },
        );
        await s.close();
        return performance.now() - t0;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    process.kill(pid, 'SIGKILL');
  }
}

/** One timed run a → b; its goodput (Mbit/s). Refuses a run without integrity. */
async function goodput(lab: Lab, stack: 'ts' | 'kernel', timeMs: number, notes: string[]): Promise<number> {
  const r = await lab.run({ from: 'a', to: 'b', timeMs, stack });
  if (r.integrity !== 'ok') throw new Error(`${stack} run a → b: ${r.integrity}`);
  const used = r.subflows.filter((s) => s.bytes > 0).length;
  notes.push(`${stack}: ${used} subflow(s) carried data`);
  return r.goodputMbps;
}

const mod: BenchModule = {
  name: 'vm',
  async available() {
    if (process.getuid?.() !== 0) return 'needs root';
    if (!findQemu()) return 'qemu-system-x86_64 not installed';
    try {
      agentScript();
    } catch {
      return 'no dist/agent.js (npm run build)';
    }
    return true;
  },
  async run(o: BenchOptions): Promise<BenchFigure[]> {
    // the live image when it can be built here (apt reachable), else the VM tests' throwaway image
    const live = await ensureLiveImage().catch(() => undefined);
    const img = live ?? testImage();
    const qemu = findQemu();
    if (!qemu) throw new Error('no qemu');
    const { accel } = await chooseAccel(benchAccel(), qemu, { kernel: img });
    const dir = mkdtempSync(join(tmpdir(), 'mplab-bench-vm-'));
    const up: number[] = [];
    const down: number[] = [];
    const bare: number[] = [];
    const ours: number[] = [];
    const guestKernel: number[] = [];
    const subflows: string[] = [];
    const timeMs = o.quick ? RUN_MS.quick : RUN_MS.full;
    const goodputs = async (lab: Lab) => {
      ours.push(await goodput(lab, 'ts', timeMs, subflows));
      // the guests' kernels get the endpoints and limits a `stack: kernel` node would have
      for (const n of lab.model.nodes) {
        const { ipLines } = kernelConfig(n);
        const r = await lab.exec(n.name, ['ip', '-batch', '-'], { input: `${ipLines.join('\n')}\n` });
        if (r.code !== 0) throw new Error(`ip mptcp in ${n.name}'s guest: ${r.stderr.trim()}`);
      }
      guestKernel.push(await goodput(lab, 'kernel', timeMs, subflows));
    };
    try {
      await repeat(o.repetitions, async (i) => {
        const name = `bvm${process.pid % 1000}${i}`;
        const file = join(dir, `${name}.yaml`);
        writeFileSync(file, topology(name, live ? undefined : img, accel));
        const t0 = performance.now();
        const lab = await Lab.up(file);
        up.push((performance.now() - t0) / 1000);
        try {
          // the kernel end in a guest needs koffi, which only the live image carries
          if (live) await goodputs(lab);
        } catch (e) {
          await lab.down();
          throw e;
        }
        const t1 = performance.now();
        await lab.down();
        down.push((performance.now() - t1) / 1000);
        bare.push((await bareBoot(img, accel, dir, i)) / 1000);
        return 0;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const source = live ? 'the live image' : "the VM tests' throwaway image (no live image in this build)";
    return [
      {
        id: 'vm.two_vm_lab_up_seconds',
        title: 'two-VM lab up (VMs booted, agents answering) vs one bare qemu boot to SSH-ready',
        ours: { label: 'mplab up, two VMs in parallel', unit: 's', values: up },
        baseline: { label: 'bare qemu -kernel -initrd, one VM, to SSH', unit: 's', values: bare },
        higherIsBetter: false,
        note: `${accel.toUpperCase()}, ${MEMORY} MiB per VM, ${source}; aim ≤ 1.3× the bare boot${live ? '' : "; no goodput figure: the guest kernel's end needs koffi, which only the live image carries"}`,
      },
      // without the live image the guests have no koffi for the kernel end: no goodput figure
      ...(live
        ? [
            {
              id: 'vm.two_vm_goodput_mbps',
              title: "goodput a → b between two VMs, unshaped links: our stack vs the guest kernel's MPTCP",
              ours: { label: 'our stack (agents in the guests)', unit: 'Mbit/s', values: ours },
              baseline: {
                label: "the guest kernel's MPTCP (Debian 6.1)",
                unit: 'Mbit/s',
                values: guestKernel,
              },
              higherIsBetter: true,
              note: `${accel.toUpperCase()}, one vCPU per VM, ${timeMs / 1000} s runs in the same lab, both paths; ${subflows.join('; ')}`,
            },
          ]
        : []),
      {
        id: 'vm.two_vm_lab_down_seconds',
        title: 'two-VM lab down',
        ours: { label: 'mplab down', unit: 's', values: down },
        higherIsBetter: false,
        note: 'no baseline: a bare VM is stopped with kill, which leaves its TAPs, namespaces and files to the user',
      },
    ];
  },
};

export default mod;
