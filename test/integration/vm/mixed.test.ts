/**
 * A mixed lab (topologies/mixed-vm.yaml): a QEMU VM whose guest kernel's MPTCP is the node's stack
 * (`stack: kernel`), against a namespace node running our stack with real IP (phy: tun), over two
 * links. Runs both ways (and reversed): integrity, each end the stack its node runs, at least two
 * address pairs carrying data by the receiver's figures, and by the sender's (its cwnd per subflow:
 * the guest's kernel end reports its own from getsockopt), then down leaves nothing.
 *
 * The guest is the live image (it carries koffi, which the kernel end in the guest needs).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLiveImage } from '../../../lab/images/live/index';
import { Lab } from '../../../lab/lab';
import type { RunResult } from '../../../lab/run/result';
import type { LiveSubflow } from '../../../lab/run/timeline';
import { readState } from '../../../lab/state';
import { caps } from '../../helpers/caps';
import { ensureDistAgent, root } from '../lab/bundle';
import { labName, labScope, leftovers, NOTHING } from '../lab/helpers';

const ready = caps.root && caps.netns && caps.tun && caps.qemu && caps.liveBuild;
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const addr = (hostPort: string) => hostPort.slice(0, hostPort.lastIndexOf(':'));

describe.skipIf(!ready)(
  'mixed VM lab: the guest kernel’s MPTCP against our stack',
  { sequential: true },
  () => {
    labScope();
    let dir = '';
    let name = '';
    let lab: Lab | undefined;
    let qemuPids: number[] = [];
    beforeAll(async () => {
      await ensureDistAgent();
      await ensureLiveImage();
      dir = mkdtempSync(join(tmpdir(), 'mplab-vm-mixed-'));
      name = labName('x');
      const file = join(dir, `${name}.yaml`);
      const text = readFileSync(join(root, 'topologies/mixed-vm.yaml'), 'utf8');
      writeFileSync(file, text.replace(/^name: .*$/m, `name: ${name}`));
      lab = await Lab.up(file);
      qemuPids = (readState(name)?.processes ?? [])
        .filter((p) => p.kind === 'vm' && p.pid !== undefined)
        .map((p) => p.pid as number);
    }, 900_000);
    afterAll(async () => {
      try {
        await lab?.down();
        if (name) expect(leftovers(name)).toEqual(NOTHING);
        for (const p of qemuPids) expect(alive(p)).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);

    const run = async (from: string, to: string, reverse = false) => {
      let live: LiveSubflow[] = [];
      const r = await (lab as Lab).run(
        { from, to, timeMs: 5000, stack: 'ts', intervalMs: 250, ...(reverse ? { reverse } : {}) },
        {
          onPoint: (_p, l) => {
            live = l;
          },
        },
      );
      return { r, live };
    };

    const check = ({ r, live }: { r: RunResult; live: LiveSubflow[] }, sender: string, receiver: string) => {
      expect(r.integrity).toBe('ok');
      expect(r.bytes).toBeGreaterThan(100_000);
      // the window is the transfer's (not the guest's process start before it)
      expect(r.goodputMbps).toBeGreaterThan(0);
      expect(r.windowBytes ?? 0).toBeGreaterThan(0);
      const ends = Object.fromEntries((r.ends ?? []).map((e) => [e.node, e]));
      expect(ends.a?.stack).toBe('kernel');
      expect(ends.b?.stack).toBe('ts');
      expect(ends[sender]?.role).toBe('sender');
      expect(ends[receiver]?.role).toBe('receiver');
      // the receiver's figures: at least two address pairs carried data, only the lab's addresses
      const pairs = (subs: { local: string; remote: string }[]) =>
        new Set(subs.map((s) => `${addr(s.local)}>${addr(s.remote)}`));
      const busy = r.subflows.filter((s) => s.bytes > 10_000);
      expect(pairs(busy).size).toBeGreaterThanOrEqual(2);
      for (const s of r.subflows) {
        expect(s.local.startsWith('10.254.254.')).toBe(false);
        // only live 4-tuples (a closed kernel subflow reads with the peer's port cleared)
        expect(s.local.endsWith(':0') || s.remote.endsWith(':0')).toBe(false);
      }
      // the sender's own figures (a cwnd on each subflow it reported), over at least two pairs
      expect(pairs(live.filter((s) => (s.cwnd ?? 0) > 0)).size).toBeGreaterThanOrEqual(2);
    };

    it('a (guest kernel) sends to b (ours)', async () => {
      check(await run('a', 'b'), 'a', 'b');
    }, 180_000);

    it('b (ours) sends to a (guest kernel)', async () => {
      check(await run('b', 'a'), 'b', 'a');
    }, 180_000);

    it('a (guest kernel) connects, b (ours) sends back (--reverse)', async () => {
      check(await run('a', 'b', true), 'b', 'a');
    }, 180_000);
  },
);
