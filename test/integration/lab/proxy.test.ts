/**
 * `mplab proxy`: unmodified iperf3 over our MPTCP. The client and server are the kernel's TCP on
 * each node's loopback; the proxy carries the bytes between the two agents over both paths of
 * two-host.yaml (an MP_CAPABLE connection plus a join, seen in the agents' MIBs).
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Lab } from '../../../lab/lab';
import type { CoreReport } from '../../../stack/report';
import { caps } from '../../helpers/caps';
import { ensureDistAgent, root } from './bundle';
import { labName, labScope, leftovers, NOTHING } from './helpers';
import { runCli as cli } from '../../helpers/cli';

const run = promisify(execFile);

describe.skipIf(!caps.netns || !caps.iperf3)('mplab proxy', () => {
  labScope();

  it('carries an unmodified iperf3 over our MPTCP, on both paths, and stops', async () => {
    await ensureDistAgent();
    const name = labName('p');
    const lab = await Lab.up(join(root, 'topologies/two-host.yaml'), { name });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const srv = spawn(
      'ip',
      [
        'netns',
        'exec',
        `mplab-${name}-b`,
        'iperf3',
        '-s',
        '-1',
        '--forceflush',
        '-B',
        '127.0.0.1',
        '-p',
        String(port),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        let text = '';
        const t = setTimeout(() => reject(new Error(`iperf3 -s did not start: ${text}`)), 10_000);
        srv.stdout.setEncoding('utf8').on('data', (d: string) => {
          text += d;
          if (text.includes('Server listening')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      const bad = await cli(['proxy', 'a', 'http', '--to', 'b', '--lab', name]);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/'http' is not a port number/);
      expect((await cli(['proxy', 'a', String(port), '--lab', name])).code).toBe(2);

      const started = await cli(['proxy', 'a', String(port), '--to', 'b', '--lab', name, '--json']);
      expect(started.code, started.err).toBe(0);
      expect(JSON.parse(started.out)).toMatchObject({ node: 'a', peer: 'b', peerAddress: '10.0.1.2' });

      const mib = async () => ((await lab.report('b'))[0]!.report.stack as CoreReport).mib;
      const before = await mib();
      const { stdout } = await run('ip', [
        'netns',
        'exec',
        `mplab-${name}-a`,
        'iperf3',
        '-c',
        '127.0.0.1',
        '-p',
        String(port),
        '-t',
        '2',
        '--json',
      ]);
      // iperf3's own figures (integrity through the proxy is the agent tests' business: here the
      // point is that an unmodified application's bytes crossed)
      const r = JSON.parse(stdout) as {
        end: { sum_received: { bytes: number }; sum_sent: { bytes: number } };
      };
      expect(r.end.sum_sent.bytes).toBeGreaterThan(0);
      expect(r.end.sum_received.bytes).toBeGreaterThan(0);
      const after = await mib();
      const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      // iperf3 opens a control and a data connection: both rode our MPTCP, each joined the second path
      expect(delta('MPCapableSYNRX')).toBeGreaterThanOrEqual(2);
      expect(delta('MPJoinSynRx')).toBeGreaterThanOrEqual(1);

      const stopped = await cli(['proxy', 'a', '--stop', '--lab', name, '--json']);
      expect(JSON.parse(stopped.out)).toEqual({ node: 'a', stopped: 1 });
      await expect(
        run('ip', [
          'netns',
          'exec',
          `mplab-${name}-a`,
          'iperf3',
          '-c',
          '127.0.0.1',
          '-p',
          String(port),
          '-n',
          '1K',
        ]),
      ).rejects.toThrow();
    } finally {
      if (srv.exitCode === null) srv.kill();
      await lab.down();
    }
    expect(leftovers(name)).toEqual(NOTHING);
  });
});
