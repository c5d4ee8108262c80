/**
 * The typed agent client against a scripted fake agent on a unix socket in a temp dir (no stack,
 * no root): framing across chunk boundaries, out-of-order replies, notifications, errors with
 * codes, timeouts, and pending calls failing when the agent goes away.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, AgentRpcError } from '../../../stack/agent/client';

let server: Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A fake agent: `onRequest` decides what to write back for each request. */
async function fake(
  onRequest: (req: { id: number; method: string; params?: unknown }, sock: Socket) => void,
): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'mplab-client-'));
  const path = join(dir, 'a.sock');
  server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        onRequest(JSON.parse(buf.slice(0, nl)), sock);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server!.listen(path, () => r()));
  return path;
}

describe('AgentClient', () => {
  it('matches replies to calls out of order, across split chunks, and dispatches notifications', async () => {
    const held: { id: number; sock: Socket }[] = [];
    const path = await fake((req, sock) => {
      if (req.method === 'ping') {
        held.push({ id: req.id, sock });
        if (held.length === 2) {
          // Reply in reverse order, the second reply split in two writes, a notification between.
          const [first, second] = held;
          sock.write(`${JSON.stringify({ jsonrpc: '2.0', id: second!.id, result: { pong: true, t: 2 } })}\n`);
          sock.write(
            `${JSON.stringify({ jsonrpc: '2.0', method: 'agent.event', params: { t: 1, kind: 'addresses' } })}\n`,
          );
          const line = `${JSON.stringify({ jsonrpc: '2.0', id: first!.id, result: { pong: true, t: 1 } })}\n`;
          sock.write(line.slice(0, 10));
          setTimeout(() => sock.write(line.slice(10)), 10);
        }
      }
    });
    const c = await AgentClient.connect(path);
    const events: unknown[] = [];
    const off = c.onNotification('agent.event', (e) => events.push(e));
    const [a, b] = await Promise.all([c.call('ping'), c.call('ping')]);
    expect(a.t).toBe(1);
    expect(b.t).toBe(2);
    expect(events).toEqual([{ t: 1, kind: 'addresses' }]);
    off();
    await c.close();
  });

  it('turns agent errors into AgentRpcError with the errno-like code', async () => {
    const path = await fake((req, sock) => {
      sock.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: req.id, error: { code: -32000, message: 'no such knob', data: { code: 'ENOENT' } } })}\n`,
      );
    });
    const c = await AgentClient.connect(path);
    const e = await c.call('sysctl.get', { name: 'x' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentRpcError);
    expect((e as AgentRpcError).code).toBe('ENOENT');
    expect((e as AgentRpcError).rpcCode).toBe(-32000);
    expect((e as AgentRpcError).message).toContain('sysctl.get');
    await c.close();
  });

  it('times out a call that gets no answer, and fails pending calls when the agent goes away', async () => {
    let victim: Socket | undefined;
    const path = await fake((_req, sock) => {
      victim = sock;
    });
    const c = await AgentClient.connect(path);
    const t0 = performance.now();
    await expect(c.call('ping', undefined, { timeoutMs: 80 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
    const pending = c.call('report', undefined, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20));
    victim!.destroy();
    await expect(pending).rejects.toThrow(/closed/);
    expect(c.isOpen).toBe(false);
    await expect(c.call('ping')).rejects.toThrow(/closed/);
  });

  it('rejects connect to a missing socket', async () => {
    await expect(
      AgentClient.connect('/nonexistent/mplab.sock', { connectTimeoutMs: 500 }),
    ).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
