/**
 * VM nodes with real QEMU (TCG here: this machine's KVM does not run guests). Few VMs, one at a
 * time per test, all in one sequential describe: a boot costs ~10-60 s and a core.
 *
 * - two VMs: up, `run a b --time 5` with integrity over both paths, the report's mapping table
 *   from inside the guest, exec's exit code, a tampered host key refused, kill -9 of one QEMU
 *   mid-run failing the run naming that node, then down leaving nothing;
 * - kill -9 of `mplab up` while the VMs boot, then down: nothing left.
 *
 * The guest image is the live image (the product's default path) where it can be built, else a
 * throwaway one built in the tests' scratch dir (testimage.ts), given as vm.kernel / vm.initrd.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../lab/lab';
import { HostKeyMismatchError, SshSession } from '../../../lab/remote/ssh';
import { ensureLiveImage } from '../../../lab/images/live/index';
import { IMAGE_AGENT } from '../../../lab/images/live/layout';
import { runTraffic } from '../../../lab/run/index';
import { readState } from '../../../lab/state';
import { labKeyFiles } from '../../../lab/vm/keys';
import { generateKeyPair } from '../../../lab/vm/keys';
import { caps } from '../../helpers/caps';
import { ensureDistAgent, root } from '../lab/bundle';
import { labName, labScope, leftovers, NOTHING } from '../lab/helpers';
import { testImage } from './testimage';

const ready = caps.root && caps.netns && caps.tun && caps.qemu && (caps.liveBuild || caps.dropbear);
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

function topology(name: string, image: { kernel: string; initrd: string } | undefined): string {
  return [
    `name: ${name}`,
    'defaults:',
    '  node:',
    '    backend: vm',
    image
      ? `    vm: { memory: 512mb, kernel: ${image.kernel}, initrd: ${image.initrd} }`
      : '    vm: { memory: 512mb }',
    'nodes:',
    '  a: {}',
    '  b: {}',
    'links:',
    '  - endpoints: [a:eth1, b:eth1]',
    '  - endpoints: [a:eth2, b:eth2]',
  ].join('\n');
}

describe.skipIf(!ready)('VM nodes (QEMU)', { sequential: true }, () => {
  labScope();
  let dir = '';
  // undefined: the nodes boot the live image, as a user's would (built into the cache here first)
  let image: { kernel: string; initrd: string } | undefined;
  beforeAll(async () => {
    await ensureDistAgent();
    dir = mkdtempSync(join(tmpdir(), 'mplab-vm-it-'));
    if (caps.liveBuild) await ensureLiveImage();
    else image = testImage();
  }, 900_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('two VMs: run with integrity over both paths, report from the guest, exec, pinned key, kill -9 mid-run, down', async () => {
    const name = labName('v');
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, topology(name, image));
    const lab = await Lab.up(file);
    try {
      const st = await lab.status();
      expect(st.nodes.map((n) => [n.name, n.vm?.state, n.vm?.memoryMib, n.agent?.answers])).toEqual([
        ['a', 'ready', 512, true],
        ['b', 'ready', 512, true],
      ]);

      const out = await runTraffic(lab, { from: 'a', to: 'b', timeMs: 5000, stack: 'ts' });
      expect(out.result.integrity).toBe('ok');
      const used = out.result.subflows.filter((s) => s.bytes > 0);
      // both paths carried data, and only the lab's addresses did (never the management NIC)
      expect(new Set(used.map((s) => s.local.split('.')[2]))).toEqual(new Set(['1', '2']));
      for (const s of out.result.subflows) expect(s.local.startsWith('10.254.254.')).toBe(false);

      // the live image built from this bundle: the agent /init started at boot is the one serving
      // (adopted, not replaced by a copy); another image: the bundle copied in
      const agents = await lab.exec('a', [
        'sh',
        '-c',
        'for d in /proc/[0-9]*; do c=$(tr \'\\0\' \' \' <$d/cmdline 2>/dev/null); case "$c" in node*agent.js*) echo "$d $c";; esac; done',
      ]);
      const serving = agents.stdout.trim().split('\n');
      expect(serving, agents.stdout).toHaveLength(1);
      expect(serving[0]?.split(' ')[2]).toBe(image ? '/run/mplab/agent.js' : IMAGE_AGENT);

      const ex = await lab.exec('a', ['sh', '-c', 'hostname; exit 7']);
      expect(ex.code).toBe(7);
      expect(ex.stdout.trim()).toBe('a');

      // the host key mplab pinned is the only one accepted
      const vmA = readState(name)?.processes.find((p) => p.kind === 'vm' && p.owner === 'a')?.vm;
      expect(vmA).toBeDefined();
      const target = {
        host: '127.0.0.1',
        port: vmA?.sshPort as number,
        user: 'root',
        privateKey: readFileSync(labKeyFiles(lab.dir).private),
        label: 'vm node a',
      };
      const s = await SshSession.connect({ ...target, hostKey: vmA?.hostKey as string });
      await s.close();
      const tampered = generateKeyPair('tampered').public;
      await expect(SshSession.connect({ ...target, hostKey: tampered })).rejects.toBeInstanceOf(
        HostKeyMismatchError,
      );

      // kill -9 of b's QEMU while a transfer runs: the run fails naming b, quickly
      const qemuB = readState(name)?.processes.find((p) => p.kind === 'vm' && p.owner === 'b')?.pid as number;
      const run = runTraffic(lab, { from: 'a', to: 'b', timeMs: 60_000, stack: 'ts' });
      // the report comes from inside the guest, while the connection is up: its mapping table
      let table: { pathIndex: number }[] = [];
      for (let i = 0; i < 40 && table.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const [rep] = await lab.report('a');
        table =
          (rep?.report.stack as { mappingTable?: { pathIndex: number }[] } | undefined)?.mappingTable ?? [];
      }
      expect(table.length).toBeGreaterThan(1);
      const killedAt = performance.now();
      process.kill(qemuB, 'SIGKILL');
      const failed = await run;
      const ms = performance.now() - killedAt;
      // the run ends because b's agent connection closed (not by the 30 s stall detector), naming b
      // named, whichever watcher saw it first (the closed control connection, or the agent watcher)
      expect(failed.result.integrity).toMatch(/node 'b'.*(died|closed)/);
      console.log(`run failed ${Math.round(ms)} ms after kill -9 of b's QEMU: ${failed.result.integrity}`);
      expect((await lab.status()).nodes.find((n) => n.name === 'b')?.vm?.state).toBe('dead');
    } finally {
      const pids = (readState(name)?.processes ?? [])
        .filter((p) => p.kind === 'vm')
        .map((p) => p.pid as number);
      await lab.down();
      expect(leftovers(name)).toEqual(NOTHING);
      for (const p of pids) expect(alive(p)).toBe(false);
    }
  }, 600_000);

  it('kill -9 of `mplab up` while the VMs boot, then down: nothing left', async () => {
    const name = labName('k');
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, topology(name, image));
    const cli = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/bin.ts'), 'up', file], {
      cwd: root,
      stdio: 'ignore',
    });
    let pids: number[] = [];
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      pids = (readState(name)?.processes ?? [])
        .filter((p) => p.kind === 'vm' && p.pid !== undefined)
        .map((p) => p.pid as number);
      if (pids.length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pids.length).toBe(2);
    cli.kill('SIGKILL');
    await new Promise((r) => cli.once('exit', r));
    for (const p of pids) expect(alive(p)).toBe(true);
    await Lab.down(name);
    expect(leftovers(name)).toEqual(NOTHING);
    for (const p of pids) expect(alive(p)).toBe(false);
  }, 300_000);
});
