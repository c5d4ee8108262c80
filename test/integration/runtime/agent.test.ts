/**
 * The bundled agent (node agent.js, no node_modules) on loopback: control protocol, knobs, traffic
 * with SHA-256, capture, the TCP proxy, garbage datagrams, single-instance, SIGTERM.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as netConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRpcError } from '../../../stack/agent/client';
import type { TrafficDone, TrafficProgress } from '../../../stack/agent/protocol';
import { freePort } from '../../../lab/vm/qemu';
import { caps } from '../../helpers/caps';
import { bundleAgent, type RunningAgent, startAgent, stopAgent } from './agent-helpers';

const udpPort = 20000 + Math.floor(Math.random() * 30000);
let dir: string;
let agentJs: string;
let a: RunningAgent | undefined;
let b: RunningAgent | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mplab-agent-t-'));
  agentJs = await bundleAgent();
  a = await startAgent(agentJs, dir, 'a', [
    '--addresses',
    '127.0.0.1,127.0.0.2',
    '--udp-port',
    String(udpPort),
  ]);
  b = await startAgent(agentJs, dir, 'b', ['--addresses', '127.0.0.3', '--udp-port', String(udpPort)]);
});

afterAll(async () => {
  await stopAgent(a);
  await stopAgent(b);
  rmSync(dir, { recursive: true, force: true });
});

describe('node agent (bundled, loopback)', () => {
  it('runs from the bundle alone: --version and --help', () => {
    const v = execFileSync(process.execPath, [agentJs, '--version'], { encoding: 'utf8', cwd: '/' });
    expect(v.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(execFileSync(process.execPath, [agentJs, '--help'], { encoding: 'utf8', cwd: '/' })).toContain(
      '--socket PATH',
    );
    const bad = spawnSync(process.execPath, [agentJs, '--nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });

  it('answers ping and version; the socket is mode 0600', async () => {
    const c = a!.client;
    expect((await c.call('ping')).pong).toBe(true);
    const v = await c.call('version');
    expect(v.core).toBe('mptcp');
    expect(v.addresses).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(v.udpPort).toBe(udpPort);
    expect(statSync(a!.socket).mode & 0o777).toBe(0o600);
  });

  it('refuses a second agent on the same socket, and the first keeps running', async () => {
    const r = spawnSync(process.execPath, [agentJs, '--socket', a!.socket, '--addresses', '127.0.0.9'], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('another agent');
    expect((await a!.client.call('ping')).pong).toBe(true);
  });

  it('takes over a stale socket file left by a killed agent', async () => {
    const port2 = udpPort + 1;
    const first = await startAgent(agentJs, dir, 'stale', [
      '--addresses',
      '127.0.0.5',
      '--udp-port',
      String(port2),
    ]);
    first.proc.kill('SIGKILL');
    await first.exited;
    await first.client.close();
    expect(existsSync(first.socket)).toBe(true);
    const second = await startAgent(agentJs, dir, 'stale', [
      '--addresses',
      '127.0.0.5',
      '--udp-port',
      String(port2),
    ]);
    try {
      expect((await second.client.call('ping')).pong).toBe(true);
    } finally {
      expect(await stopAgent(second)).toBe(0);
    }
    expect(existsSync(second.socket)).toBe(false);
  });

  it('--control-tcp: the same protocol on 127.0.0.1:PORT, closed again on shutdown', async () => {
    const port = await freePort();
    const tcp = await startAgent(agentJs, dir, 'tcp', [
      '--addresses',
      '127.0.0.6',
      '--udp-port',
      String(udpPort + 2),
      '--control-tcp',
      String(port),
    ]);
    const ask = (line: string) =>
      new Promise<string>((resolve, reject) => {
        const c = netConnect(port, '127.0.0.1');
        let got = '';
        c.setEncoding('utf8');
        c.on('data', (d: string) => {
          got += d;
          if (got.includes('\n')) {
            c.end();
            resolve(got.trim());
          }
        });
        c.on('error', reject);
        c.write(`${line}\n`);
      });
    try {
      const reply = JSON.parse(await ask('{"jsonrpc":"2.0","id":7,"method":"ping"}'));
      expect(reply).toMatchObject({ jsonrpc: '2.0', id: 7, result: { pong: true } });
    } finally {
      expect(await stopAgent(tcp)).toBe(0);
    }
    // nothing listens on the port after the agent stopped
    await expect(ask('{"jsonrpc":"2.0","id":8,"method":"ping"}')).rejects.toThrow(/ECONNREFUSED/);
    const bad = spawnSync(
      process.execPath,
      [agentJs, '--socket', join(dir, 'x.sock'), '--control-tcp', 'abc'],
      {
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--control-tcp must be a port number');
  });

  it('gets, sets and lists knobs; bad values and names are errors with codes', async () => {
    const c = a!.client;
    const list = await c.call('sysctl.list');
    expect(list.knobs.map((k) => k.name)).toContain('net.mptcp.mptcp_enabled');
    expect(await c.call('sysctl.set', { name: 'net.mptcp.mptcp_ndiffports', value: 2 })).toEqual({
      name: 'net.mptcp.mptcp_ndiffports',
      value: 2,
    });
    expect((await c.call('sysctl.get', { name: 'net/mptcp/mptcp_ndiffports' })).value).toBe(2);
    await c.call('sysctl.set', { name: 'net.mptcp.mptcp_ndiffports', value: 1 });
    await expect(c.call('sysctl.set', { name: 'net.mptcp.mptcp_enabled', value: 7 })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    const e = await c.call('sysctl.get', { name: 'net.mptcp.mptcp_enabeld' }).catch((x: AgentRpcError) => x);
    expect(e).toBeInstanceOf(AgentRpcError);
    expect((e as AgentRpcError).code).toBe('ENOENT');
    expect((e as AgentRpcError).message).toContain('mptcp_enabled');
    await expect(c.call('nope' as 'ping')).rejects.toMatchObject({ rpcCode: -32601 });
  });

  it('moves 20 MB sender → sink with matching SHA-256, progress per subflow, and a capture', async () => {
    const ca = a!.client;
    const cb = b!.client;
    const progress: TrafficProgress[] = [];
    const dones: TrafficDone[] = [];
    const off1 = ca.onNotification('traffic.progress', (p) => progress.push(p));
    const off2 = cb.onNotification('traffic.done', (d) => dones.push(d));
    const pcap = join(dir, 'a.pcap');
    await ca.call('capture.start', { file: pcap });
    const sink = await cb.call('traffic.sink', { port: 47001, once: true, intervalMs: 200 });
    const res = await ca.call(
      'traffic.send',
      { host: '127.0.0.3', port: 47001, bytes: 20_000_000, intervalMs: 100, wait: true },
      { timeoutMs: 60_000 },
    );
    const cap = await ca.call('capture.stop');
    off1();
    off2();
    const st = res.status!;
    expect(st.state).toBe('done');
    expect(st.result!.bytes).toBe(20_000_000);
    // The sink's result arrives as a notification and in its status.
    for (let i = 0; i < 50 && dones.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const sinkStatus = (await cb.call('traffic.status', { id: sink.id })).jobs[0]!;
    expect(sinkStatus.state).toBe('done');
    expect(sinkStatus.result!.bytes).toBe(20_000_000);
    expect(sinkStatus.result!.sha256).toBe(st.result!.sha256);
    expect(dones[0]!.result.sha256).toBe(st.result!.sha256);
    // Progress: per-subflow figures, with two subflows each having sent something by the end.
    expect(progress.length).toBeGreaterThan(0);
    const last = progress.at(-1)!;
    expect(last.subflows.length).toBeGreaterThanOrEqual(2);
    expect(last.subflows.every((s) => typeof s.cwnd === 'number' && s.local.includes(':'))).toBe(true);
    // The last notification carries the final figures: every byte went out on some subflow.
    expect(last.bytes).toBe(20_000_000);
    expect(last.subflows.reduce((n, s) => n + s.bytes, 0)).toBeGreaterThanOrEqual(20_000_000);
    // The capture holds the traffic, as a real pcap.
    // Loopback MTU is 64 KiB: the derived MSS is the 16384 cap.
    expect(cap.packets).toBeGreaterThan(20_000_000 / 16_384);
    const head = readFileSync(pcap).subarray(0, 4);
    expect(head.readUInt32LE(0)).toBe(0xa1b2c3d4);
    if (caps.tshark) {
      const out = execFileSync('tshark', ['-r', pcap, '-Y', 'mptcp', '-T', 'fields', '-e', 'frame.number'], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      expect(out.trim().split('\n').length).toBeGreaterThan(100);
      const malformed = execFileSync(
        'tshark',
        ['-r', pcap, '-Y', '_ws.malformed || _ws.expert.severity == error'],
        {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        },
      );
      expect(malformed.trim()).toBe('');
    }
  });

  it('the other way round: a listening sender and a connecting sink (iperf3 -R), SHA-256 equal', async () => {
    const ca = a!.client;
    const cb = b!.client;
    const dones: TrafficDone[] = [];
    const off = ca.onNotification('traffic.done', (d) => dones.push(d));
    // b listens and sends; a connects (from its second address) and receives
    const send = await cb.call('traffic.send', {
      listen: true,
      port: 47011,
      bytes: 5_000_000,
      intervalMs: 100,
    });
    const listening = (await cb.call('traffic.status', { id: send.id })).jobs[0]!;
    expect(listening.state).toBe('listening');
    // the port is taken while it listens
    await expect(cb.call('traffic.sink', { port: 47011 })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const sink = await ca.call('traffic.sink', {
      port: 47011,
      host: '127.0.0.3',
      localAddress: '127.0.0.2',
      intervalMs: 100,
    });
    for (let i = 0; i < 400 && dones.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    off();
    const got = (await ca.call('traffic.status', { id: sink.id })).jobs[0]!;
    const sent = (await cb.call('traffic.status', { id: send.id })).jobs[0]!;
    expect(got.state).toBe('done');
    expect(got.result!.bytes).toBe(5_000_000);
    for (let i = 0; i < 100 && sent.state !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      Object.assign(sent, (await cb.call('traffic.status', { id: send.id })).jobs[0]!);
    }
    expect(sent.state).toBe('done');
    expect(got.result!.sha256).toBe(sent.result!.sha256);
    // a: the client, from the address it was asked to use
    const rep = await ca.call('report');
    const conn = rep.connections.find((c) => c.subflows.some((f) => f.remote.port === 47011));
    expect(conn?.subflows.find((f) => f.pathIndex === 1)?.local.address).toBe('127.0.0.2');
  });

  it('refuses traffic params that contradict each other', async () => {
    const c = a!.client;
    await expect(c.call('traffic.send', { port: 47012, bytes: 1 } as never)).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(
      c.call('traffic.send', { host: '127.0.0.3', listen: true, port: 47012, bytes: 1 }),
    ).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(
      c.call('traffic.send', { listen: true, localAddress: '127.0.0.1', port: 47012, bytes: 1 }),
    ).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(c.call('traffic.sink', { port: 47012, localAddress: '127.0.0.1' })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    // a listening sender nobody connects to stops cleanly
    const j = await c.call('traffic.send', { listen: true, port: 47013, bytes: 1 });
    const st = await c.call('traffic.stop', { id: j.id });
    expect(st.state).toBe('stopped');
    expect(st.result?.error?.code).toBe('ESTOPPED');
  });

  it('answers malformed JSON-RPC with the right error codes and keeps serving', async () => {
    const raw = netConnect({ path: a!.socket });
    await new Promise<void>((r) => raw.once('connect', () => r()));
    raw.setEncoding('utf8');
    const lines: string[] = [];
    let buf = '';
    raw.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    raw.write('this is not json\n');
    raw.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1 })}\n`);
    raw.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'sysctl.get', params: { name: 5 } })}\n`);
    raw.write(`${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'listen', params: { port: 70000 } })}\n`);
    raw.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'ping' })}\n`); // a notification: no answer
    raw.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'last', method: 'ping' })}\n`);
    for (let i = 0; i < 100 && lines.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
    raw.destroy();
    const msgs = lines.map(
      (l) => JSON.parse(l) as { id: unknown; error?: { code: number }; result?: unknown },
    );
    expect(msgs).toHaveLength(5);
    expect(msgs[0]).toMatchObject({ id: null, error: { code: -32700 } });
    expect(msgs[1]).toMatchObject({ id: 1, error: { code: -32600 } });
    expect(msgs[2]).toMatchObject({ id: 2, error: { code: -32602 } });
    expect(msgs[3]).toMatchObject({ id: 3, error: { code: -32602 } });
    expect(msgs[4]).toMatchObject({ id: 'last', result: { pong: true } });
  });

  it('listen (discard, echo) and unlisten on stack ports', async () => {
    const ca = a!.client;
    const cb = b!.client;
    expect(await cb.call('listen', { port: 7101 })).toEqual({ port: 7101 });
    expect(await cb.call('listen', { port: 7102, mode: 'echo' })).toEqual({ port: 7102 });
    await expect(cb.call('listen', { port: 7101 })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    for (const port of [7101, 7102]) {
      const r = await ca.call('traffic.send', { host: '127.0.0.3', port, bytes: 1_000_000, wait: true });
      expect(r.status!.state).toBe('done');
      expect(r.status!.result!.bytes).toBe(1_000_000);
    }
    expect(await cb.call('unlisten', { port: 7101 })).toEqual({ port: 7101 });
    await expect(cb.call('unlisten', { port: 7101 })).rejects.toMatchObject({ code: 'ENOENT' });
    const refused = await ca.call('traffic.send', { host: '127.0.0.3', port: 7101, bytes: 10, wait: true });
    expect(refused.status!.result!.error!.code).toBe('ECONNREFUSED');
    await cb.call('unlisten', { port: 7102 });
  });

  it('reports a refused connection as a failed job with ECONNREFUSED', async () => {
    const r = await a!.client.call('traffic.send', {
      host: '127.0.0.3',
      port: 7999,
      bytes: 1000,
      wait: true,
    });
    expect(r.status!.state).toBe('failed');
    expect(r.status!.result!.error!.code).toBe('ECONNREFUSED');
  });

  it('proxies kernel TCP through the stack to a kernel TCP target, both ways', async () => {
    // Echo server on kernel TCP, reached via A's proxy → B's proxy port → target.
    const echo: Server = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const echoPort = (echo.address() as { port: number }).port;
    const listenPort = 30000 + Math.floor(Math.random() * 20000);
    await a!.client.call('proxy.start', {
      listenPort,
      peer: '127.0.0.3',
      targetHost: '127.0.0.1',
      targetPort: echoPort,
    });
    const data = randomBytes(3_000_000);
    const back = await new Promise<Buffer>((resolve, reject) => {
      const k = netConnect({ port: listenPort, host: '127.0.0.1', allowHalfOpen: true });
      const parts: Buffer[] = [];
      k.on('data', (d) => parts.push(d));
      k.on('end', () => resolve(Buffer.concat(parts)));
      k.on('error', reject);
      k.end(data);
    });
    expect(back.length).toBe(data.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
    expect((await a!.client.call('proxy.stop', { listenPort })).stopped).toBe(1);
    echo.close();
  });

  it('proxy: a refused target closes the client connection, and both directions run at once', async () => {
    const listenPort = 30000 + Math.floor(Math.random() * 20000);
    // A port nobody listens on (bind then close to get a free one).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await a!.client.call('proxy.start', {
      listenPort,
      peer: '127.0.0.3',
      targetHost: '127.0.0.1',
      targetPort: deadPort,
    });
    const t0 = performance.now();
    const outcome = await new Promise<string>((resolve) => {
      const k = netConnect({ port: listenPort, host: '127.0.0.1' });
      k.on('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error'));
      k.on('close', () => resolve('closed'));
      k.resume();
    });
    expect(['closed', 'ECONNRESET']).toContain(outcome);
    expect(performance.now() - t0).toBeLessThan(5000);
    await a!.client.call('proxy.stop', { listenPort });

    // Both directions at once: the target sends 4 MB while receiving 4 MB from the client.
    const up = randomBytes(4_000_000);
    const down = randomBytes(4_000_000);
    let upHash = '';
    const target: Server = createServer({ allowHalfOpen: true }, (s) => {
      const h = createHash('sha256');
      s.on('data', (d) => h.update(d));
      s.on('end', () => {
        upHash = h.digest('hex');
      });
      s.end(down);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    const targetPort = (target.address() as { port: number }).port;
    await a!.client.call('proxy.start', {
      listenPort,
      peer: '127.0.0.3',
      targetHost: '127.0.0.1',
      targetPort,
    });
    const got = await new Promise<Buffer>((resolve, reject) => {
      const k = netConnect({ port: listenPort, host: '127.0.0.1', allowHalfOpen: true });
      const parts: Buffer[] = [];
      k.on('data', (d) => parts.push(d));
      k.on('end', () => resolve(Buffer.concat(parts)));
      k.on('error', reject);
      k.end(up);
    });
    for (let i = 0; i < 50 && !upHash; i++) await new Promise((r) => setTimeout(r, 20));
    expect(createHash('sha256').update(got).digest('hex')).toBe(
      createHash('sha256').update(down).digest('hex'),
    );
    expect(upHash).toBe(createHash('sha256').update(up).digest('hex'));
    await a!.client.call('proxy.stop', { listenPort });
    target.close();
  });

  it('drops and counts garbage datagrams on the UDP port', async () => {
    const before = (await b!.client.call('report')).phy.garbageDropped;
    const s = createSocket('udp4');
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const d = randomBytes(i % 2 ? 7 : 64);
        d[12] = 0xf0 | (d[12]! & 0x0f);
        return new Promise<void>((r) => s.send(d, udpPort, '127.0.0.3', () => r()));
      }),
    );
    s.close();
    await new Promise((r) => setTimeout(r, 200));
    const rep = await b!.client.call('report');
    expect(rep.phy.garbageDropped - before).toBe(300);
    expect((await b!.client.call('ping')).pong).toBe(true);
  });

  it('exits cleanly on SIGTERM and removes its socket; shutdown over RPC too', async () => {
    const code = await stopAgent(b);
    expect(code).toBe(0);
    expect(existsSync(b!.socket)).toBe(false);
    expect(readFileSync(b!.log, 'utf8')).toContain('bye');
    b = undefined;
    const c = a!.client;
    const closed = c.closed();
    expect(await c.call('shutdown')).toEqual({ ok: true });
    await closed;
    expect(await a!.exited).toBe(0);
    expect(existsSync(a!.socket)).toBe(false);
    a = undefined;
  });
});
