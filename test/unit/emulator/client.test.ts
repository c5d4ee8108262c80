/**
 * The lab-side client (lab/emulator/index.ts) against a fake emulator process that speaks the
 * control protocol: spawn, readiness, requests, errors, stop. No root, no TAPs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { linkUpDown, setLink, startEmulator, stats, stopEmulator } from '../../../lab/emulator/index';

const dir = mkdtempSync(join(tmpdir(), 'mplab-emu-client-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Answers like the real emulator and logs every request it got to requests.log.
const FAKE = join(dir, 'fake-emulator.mjs');
writeFileSync(
  FAKE,
  `import net from 'node:net';
import fs from 'node:fs';
const cfg = JSON.parse(fs.readFileSync(process.argv[process.argv.indexOf('--config') + 1], 'utf8'));
const log = (o) => fs.appendFileSync(cfg.socket + '.requests', JSON.stringify(o) + '\\n');
const mode = process.env.FAKE_MODE ?? 'ok';
if (mode === 'fail') { console.error('cannot open /dev/net/tun: boom'); process.exit(1); }
if (process.env.FAKE_TERM === 'ignore') process.on('SIGTERM', () => {});
if (mode === 'mute') setInterval(() => {}, 1000);
else {
  const srv = net.createServer((c) => {
    let buf = '';
    c.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        log(req);
        if (req.cmd === 'stop') { c.end(JSON.stringify({ ok: true, result: { pid: process.pid } }) + '\\n'); srv.close(); setTimeout(() => process.exit(0), 20); continue; }
        if (req.cmd === 'set' && req.params.lossPct > 100) { c.write(JSON.stringify({ id: req.id, ok: false, error: 'lossPct must be a percentage' }) + '\\n'); continue; }
        const result = req.cmd === 'stats' ? { pid: process.pid, uptimeMs: 1, lateMaxMs: 0, lateCount: 0, links: [] } : { pid: process.pid };
        c.write(JSON.stringify({ id: req.id, ok: true, result }) + '\\n');
      }
    });
  });
  setTimeout(() => srv.listen(cfg.socket), 150); // not ready at once: the client must wait
}
`,
);

function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(st.slice(st.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

const link = {
  id: 'l1',
  a: { netns: 'x', ifname: 'eth1' },
  b: { netns: 'y', ifname: 'eth1' },
  ab: { delayMs: 10 },
  ba: {},
};

describe('emulator client', () => {
  it('starts, waits for the socket, sends requests, stops', async () => {
    const stateDir = join(dir, 'ok');
    let spawned = 0;
    const h = await startEmulator({
      lab: 'u',
      stateDir,
      links: [link],
      seed: 7,
      command: [process.execPath, FAKE],
      onSpawn: (pid) => {
        spawned = pid;
      },
    });
    expect(h.pid).toBe(spawned);
    expect(alive(h.pid)).toBe(true);
    const cfg = JSON.parse(readFileSync(h.config, 'utf8'));
    expect(cfg).toMatchObject({
      lab: 'u',
      seed: 7,
      carrier: true,
      rtPriority: 10,
      socket: h.socket,
      links: [link],
    });
    await setLink(h.socket, 'l1', 'ab', { lossPct: 1 });
    await linkUpDown(h.socket, 'l1', false);
    await linkUpDown(h.socket, 'l1', true);
    expect((await stats(h.socket)).links).toEqual([]);
    await expect(setLink(h.socket, 'l1', 'both', { lossPct: 300 })).rejects.toThrow(/emulator: lossPct/);
    await stopEmulator(h);
    expect(alive(h.pid)).toBe(false);
    expect(existsSync(h.socket)).toBe(false);
    const reqs = readFileSync(`${h.socket}.requests`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(reqs.map((r) => r.cmd)).toEqual(['ping', 'set', 'down', 'up', 'stats', 'set', 'stop']);
    expect(reqs[1]).toEqual({ cmd: 'set', link: 'l1', dir: 'ab', params: { lossPct: 1 }, replace: false });
    // Idempotent: stopping again (by handle, socket or pid) is a no-op.
    await stopEmulator(h);
    await stopEmulator(h.pid);
  });

  it('reports a failed start with the log tail', async () => {
    process.env.FAKE_MODE = 'fail';
    try {
      await expect(
        startEmulator({
          lab: 'u',
          stateDir: join(dir, 'fail'),
          links: [link],
          command: [process.execPath, FAKE],
        }),
      ).rejects.toThrow(/exited during start \(exit code 1\):[\s\S]*cannot open \/dev\/net\/tun: boom/);
    } finally {
      delete process.env.FAKE_MODE;
    }
  });

  it('gives up after the timeout and kills what it started', async () => {
    process.env.FAKE_MODE = 'mute';
    let pid = 0;
    try {
      await expect(
        startEmulator({
          lab: 'u',
          stateDir: join(dir, 'mute'),
          links: [link],
          command: [process.execPath, FAKE],
          timeoutMs: 400,
          onSpawn: (p) => {
            pid = p;
          },
        }),
      ).rejects.toThrow(/did not become ready within 400 ms/);
    } finally {
      delete process.env.FAKE_MODE;
    }
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });

  it.each([
    ['SIGTERM', undefined],
    ['SIGKILL', 'ignore'],
  ])('stops an emulator whose socket is gone with %s', async (_sig, term) => {
    if (term) process.env.FAKE_TERM = term;
    let h: Awaited<ReturnType<typeof startEmulator>>;
    try {
      h = await startEmulator({
        lab: 'u',
        stateDir: join(dir, `sig-${_sig}`),
        links: [link],
        command: [process.execPath, FAKE],
      });
    } finally {
      delete process.env.FAKE_TERM;
    }
    rmSync(h.socket);
    const t0 = Date.now();
    await stopEmulator(h, 600);
    expect(alive(h.pid)).toBe(false);
    // No socket to ask: SIGTERM at once; SIGKILL only when the timeout has passed.
    if (term) expect(Date.now() - t0).toBeGreaterThanOrEqual(590);
    else expect(Date.now() - t0).toBeLessThan(400);
  });
});
