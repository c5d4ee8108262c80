/**
 * The boot check of `mplab image build --live --check`: the image's kernel + initramfs booted
 * under QEMU (TCG, one vCPU, no NIC) in shell mode, as far as /init's ready line, then one command
 * typed on the serial console that runs the image's node. It proves the kernel starts, /init runs,
 * its modules load and node with its libraries works inside, without a lab or a network.
 * TCG and generous limits: this is a check that it boots, never a measure of how fast.
 */
import { RuntimeFailure } from '../../errors';
import { QemuBoot, stripAnsi } from './boot';
import type { LiveImage } from './build';

export interface BootCheck {
  /** Seconds from QEMU's start to /init's ready line, and to node's answer. */
  readySeconds: number;
  nodeSeconds: number;
  /** What node --version said inside the image. */
  nodeVersion: string;
  /** /init's complaints on the way (a module that did not load, netem unusable). */
  warnings: string[];
}

export interface BootCheckOptions {
  /** Per wait, from boot to ready line and then for node's answer (default 300 s: loaded TCG). */
  timeoutMs?: number;
  accel?: string;
}

const READY = /mplab: root shell; mplab is on the PATH/;
const NODE = /mplab-check: node (v\d+\.\d+\.\d+)/;

export async function checkLiveBoot(
  image: Pick<LiveImage, 'kernel' | 'initrd'>,
  opts: BootCheckOptions = {},
): Promise<BootCheck> {
  const timeout = opts.timeoutMs ?? 300_000;
  const vm = QemuBoot.start({
    kernel: image.kernel,
    initrd: image.initrd,
    // panic=-1 with -no-reboot: a kernel panic ends QEMU at once instead of waiting out the limit
    append: 'console=ttyS0 mplab.mode=shell panic=-1',
    ...(opts.accel ? { accel: opts.accel } : {}),
  });
  try {
    const readySeconds = await vm.waitFor(READY, timeout).catch((e: Error) => {
      throw new RuntimeFailure(`boot check: the image did not reach its ready line: ${e.message}`);
    });
    // the echo's own text does not match NODE (it holds "$(", not a version): only its output does
    vm.send('echo "mplab-check: node $(node --version)"\n');
    const nodeSeconds = await vm.waitFor(NODE, timeout).catch((e: Error) => {
      throw new RuntimeFailure(`boot check: node did not run inside the image: ${e.message}`);
    });
    const out = stripAnsi(vm.output);
    const warnings = out
      .split('\n')
      .filter((l) => /^mplab: (insmod .* failed|sch_netem unusable)/.test(l))
      .map((l) => l.trim());
    return { readySeconds, nodeSeconds, nodeVersion: NODE.exec(out)?.[1] ?? '?', warnings };
  } finally {
    await vm.stop();
  }
}
