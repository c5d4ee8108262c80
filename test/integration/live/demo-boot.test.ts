/**
 * The live ISO, for real: built by the same code as `mplab image build --live`, booted by QEMU
 * headless from the CD (BIOS, the ISO's default menu entry, serial console as with -nographic):
 * the IETF demo runs inside the guest with network namespaces and netem, and the console shows the
 * demo's own integrity verdict and /init's summary line. The same ISO reaches /init under UEFI
 * (OVMF). TCG throughout, so generous timeouts and no speed assertion: the default run waits for
 * the whole demo, WiFi lost and back, and its integrity verdict.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QemuBoot, stripAnsi } from '../../../lab/images/live/boot';
import type { LiveImage } from '../../../lab/images/live/build';
import { caps } from '../../helpers/caps';
import { liveImage } from './image';

describe.skipIf(!caps.qemu || !caps.liveBuild || !caps.liveIso)('live ISO', () => {
  let image: LiveImage;
  let vm: QemuBoot | undefined;

  beforeAll(async () => {
    image = await liveImage({ iso: true });
  }, 600_000);

  afterEach(async () => {
    await vm?.stop();
    vm = undefined;
  });

  // The whole demo on one emulated vCPU: boot, the lab, the 30 s download (WiFi lost at 10 s and
  // back at 20 s), its drain and the teardown. A few minutes idle; the limits allow for a loaded
  // machine (several times that) and the test asserts what happened, never how fast.
  it('boots the IETF demo by default: the download survives WiFi lost and back, integrity ok', async () => {
    expect(image.iso).toBeDefined();
    vm = QemuBoot.start({ iso: image.iso as string });
    await vm.waitFor(/mplab: init \(demo mode\)/, 300_000);
    await vm.waitFor(/mplab demo: the IETF 80 MPTCP live-CD demo/, 300_000);
    await vm.waitFor(/downloading for 30 s|mplab: demo failed/, 900_000);
    expect(stripAnsi(vm.output)).toMatch(/knobs on the client/);
    await vm.waitFor(/mplab: (demo finished|demo failed)/, 2_400_000);
    const all = stripAnsi(vm.output);
    expect(all).not.toMatch(/sch_netem unusable|insmod .* failed/);
    // WiFi went and came back during the download, in that order
    const down = all.search(/event: link client:wifi down/);
    const up = all.search(/event: link client:wifi up/);
    expect(down).toBeGreaterThan(0);
    expect(up).toBeGreaterThan(down);
    // the demo's own verdict, then /init's summary line from the demo's exit code
    expect(all).toMatch(/integrity: ok \(SHA-256 matches end to end\)/);
    expect(all).toMatch(/mplab: demo finished: integrity ok/);
    expect(all).not.toMatch(/mplab: demo failed/);
  }, 3_900_000);

  it.skipIf(!caps.ovmf)(
    'boots under UEFI too',
    async () => {
      vm = QemuBoot.start({ iso: image.iso as string, uefi: '/usr/share/ovmf/OVMF.fd' });
      await vm.waitFor(/mplab: init \(demo mode\)/, 300_000);
    },
    400_000,
  );
});
