/**
 * A lab where our node (`phy: tun`) and a `stack: kernel` node share two links: the lab starts the
 * agent with --phy tun, configures the kernel node's MPTCP, our agent sends to a kernel MPTCP
 * server over both paths (SHA-256 equal), and the kernel node's report shows what ss and ip mptcp
 * know. Down leaves nothing behind.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatKernelReport, kernelReport } from '../../../lab/kernel/report';
import { Lab } from '../../../lab/lab';
import { caps } from '../../helpers/caps';
import { bundleForSuite } from '../lab/bundle';
import { labName, labScope, leftovers, NOTHING } from '../lab/helpers';
import { tmpDir } from './dissect';
import { hasMptcpPython, KERNEL_PY, type KernelResult } from './harness';

const tmp = tmpDir();

describe.skipIf(!caps.netns || !caps.tun || !caps.kernelMptcp || !hasMptcpPython)(
  'lab: phy tun beside a kernel node',
  () => {
    labScope();
    bundleForSuite();
    afterAll(() => {
      tmp.remove();
    });

    it('our agent on the real wire sends to the kernel over both paths', async () => {
      const name = labName('t');
      const file = join(tmp.dir, 'tun-kernel.yaml');
      writeFileSync(
        file,
        [
          `name: ${name}`,
          'nodes:',
          '  a:',
          '    phy: tun',
          '  b:',
          '    stack: kernel',
          'links:',
          '  - endpoints: [a:eth1, b:eth1]',
          '  - endpoints: [a:eth2, b:eth2]',
          '',
        ].join('\n'),
      );
      const lab = await Lab.up(file, { name });
      try {
        const rules = (await lab.exec('a', ['ip', 'rule'])).stdout;
        expect(rules).toMatch(/to 10\.0\.1\.1 ipproto tcp lookup 8684/);
        // The kernel server (a sink that reports MPTCP_INFO).
        const { spawn } = await import('node:child_process');
        const srv = spawn(
          'ip',
          [
            'netns',
            'exec',
            `mplab-${name}-b`,
            'python3',
            '-c',
            KERNEL_PY,
            'server',
            '0.0.0.0',
            '5201',
            'sink',
            '0',
            '262',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        srv.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
        });
        for (let i = 0; i < 300 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
        const c = await lab.agent('a');
        let sha: string | undefined;
        try {
          const bytes = 3 << 20;
          const r = await c.call(
            'traffic.send',
            { host: '10.0.1.2', port: 5201, bytes, wait: true },
            { timeoutMs: 30_000 },
          );
          sha = r.status?.result?.sha256;
          expect(r.status?.state).toBe('done');
        } finally {
          c.close();
        }
        await new Promise<void>((r) => (srv.exitCode === null ? srv.on('close', () => r()) : r()));
        const done = out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Partial<KernelResult> & { done?: boolean })
          .find((o) => o.done);
        expect(done?.bytes).toBe(3 << 20);
        expect(done?.sha256).toBe(sha);
        // Both paths: MPTCP_INFO counts the subflows beyond the first, so >= 1 means two (the lab
        // binds each address to its own link: a1-b1 and a2-b2).
        expect(done?.info?.subflows).toBeGreaterThanOrEqual(1);

        const rep = await kernelReport(lab, 'b');
        expect(rep.endpoints.map((e) => e.address).sort()).toEqual(['10.0.1.2', '10.0.2.2']);
        expect(rep.sysctl['net.mptcp.enabled']).toBe('1');
        expect(formatKernelReport(rep)).toMatch(/^node b \(stack: kernel\)/);
      } finally {
        await lab.down();
      }
      expect(leftovers(name)).toEqual(NOTHING);
    }, 120_000);
  },
);
