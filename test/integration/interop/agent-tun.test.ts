/**
 * The node agent with `--phy tun` (as a lab starts it, from the sources here) sends to a kernel
 * MPTCP server: SHA-256 equal at both ends, the kernel's ADD_ADDR used (two subflows or more), the
 * agent's report counting IP packets on the TUN phy.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../../stack/agent/client';
import { caps } from '../../helpers/caps';
import { netnsScope, tag } from '../../helpers/netns';
import { dissect, startCapture, tmpDir } from './dissect';
import { hasMptcpPython, kernelApp, kernelSetup, makePair } from './harness';

netnsScope();
const tmp = tmpDir();
afterAll(() => tmp.remove());

async function waitFor(path: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!caps.netns || !caps.tun || !caps.kernelMptcp || !hasMptcpPython || !caps.tshark)(
  'agent --phy tun',
  () => {
    it('sends to a kernel MPTCP server over real IP, integrity and subflows checked', async () => {
      const pair = makePair(tag());
      kernelSetup(
        pair,
        [],
        ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${pair.b[1]} signal`],
      );
      const cap = await startCapture(pair.k, pair.kIf, tmp.dir);
      const k = kernelApp(pair, 'server', '0.0.0.0', 5201, 'sink', 0);
      await k.ready;
      const sock = join(tmp.dir, 'agent.sock');
      const log = join(tmp.dir, 'agent.log');
      const agent: ChildProcess = spawn(
        'ip',
        [
          'netns',
          'exec',
          pair.ts,
          process.execPath,
          '--import',
          'tsx',
          'stack/agent/main.ts',
          '--socket',
          sock,
          '--log',
          log,
          '--phy',
          'tun',
          '--addresses',
          pair.a.join(','),
        ],
        { stdio: 'ignore' },
      );
      let client: AgentClient | undefined;
      try {
        await waitFor(sock, 20_000);
        client = await AgentClient.connect(sock);
        const bytes = 2 << 20;
        const r = await client.call(
          'traffic.send',
          { host: pair.b[0]!, port: 5201, bytes, localAddress: pair.a[0], wait: true },
          { timeoutMs: 30_000 },
        );
        const kr = await k.result;
        expect(r.status?.state).toBe('done');
        expect(kr.bytes).toBe(bytes);
        expect(r.status?.result?.sha256).toBe(kr.sha256);
        expect(kr.info.subflows).toBeGreaterThanOrEqual(1);
        const rep = await client.call('report');
        expect(rep.phy.datagramsOut).toBeGreaterThan(1000);
        expect(rep.phy.garbageDropped, 'phy garbage + core drops').toBe(0);
        await client.call('shutdown').catch(() => undefined);
        await cap.stop();
        expect(cap.dropped(), `capture drops: ${cap.stats()}`).toBe(0);
        const d = dissect(cap.file, pair.a);
        expect(d.malformed, 'malformed').toBe(0);
        expect(d.mptcpStreams.size).toBe(1);
        const streams = [...[...d.mptcpStreams.values()][0]!].filter((s) => d.streamsWithData.has(s));
        expect(streams.length).toBeGreaterThanOrEqual(2);
        expect(d.dataCoverage.fromOurs.gaps, `gaps ${d.gapList.join(', ')}`).toBe(0);
        expect(d.tokenMismatches, 'join tokens').toBe(0);
      } finally {
        client?.close();
        if (agent.exitCode === null) agent.kill('SIGTERM');
        await new Promise((r) => (agent.exitCode === null ? agent.once('exit', r) : r(undefined)));
        await cap.stop();
      }
    }, 60_000);
  },
);
