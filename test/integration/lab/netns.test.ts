/**
 * The netns backend on real namespaces (root): building, policy routing, traffic on every path,
 * shaping, link down/up, status counters, big chains, and `down` leaving nothing behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NetnsBackend } from '../../../lab/backends/netns';
import { Lab } from '../../../lab/lab';
import { netemAvailable } from '../../../lab/links/shaping';
import { readState, runDir } from '../../../lab/state';
import { caps } from '../../helpers/caps';
import { gone, iperf, labName, labScope, leftovers, NOTHING } from './helpers';
import { chain, twoHost } from './models';

describe.skipIf(!caps.netns || !caps.iperf3)('netns backend', () => {
  labScope();

  it('builds a two-host lab whose two paths both carry traffic, then leaves nothing', async () => {
    const name = labName('a');
    const lab = await Lab.up(twoHost(name, { stack: 'none' }));
    expect(readState(name)?.phase).toBe('up');
    expect(leftovers(name).namespaces.sort()).toEqual([`mplab-${name}-a`, `mplab-${name}-b`]);

    // source policy routing: one rule per address, each to its own table
    const rules = (await lab.exec('a', ['ip', 'rule'])).stdout;
    expect(rules).toMatch(/from 10\.0\.1\.1 lookup 101/);
    expect(rules).toMatch(/from 10\.0\.2\.1 lookup 102/);
    const get = (await lab.exec('a', 'ip route get 10.0.2.2 from 10.0.2.1 | head -1')).stdout;
    expect(get).toMatch(/dev eth2/);

    const before = await lab.status();
    for (const k of [1, 2]) {
      // iperf3 -n counts what the sender wrote; the receiver's count can stop short at test end,
      // so the bytes on the wire are checked with the interface counters below.
      const r = await iperf(lab, 'b', `10.0.${k}.2`, 'a', `10.0.${k}.1`, ['-n', '2M']);
      expect(r.bytes).toBeGreaterThan(0);
    }
    const after = await lab.status();
    for (const [i, l] of after.links.entries()) {
      const tx = (l.counters.a?.txBytes ?? 0) - (before.links[i]?.counters.a?.txBytes ?? 0);
      const rx = (l.counters.b?.rxBytes ?? 0) - (before.links[i]?.counters.b?.rxBytes ?? 0);
      // most of it: iperf3 -n may end while the tail is still leaving the socket buffer
      expect(tx, `${l.id} carried the transfer`).toBeGreaterThan(1.5 * 1024 * 1024);
      expect(rx).toBeGreaterThan(1.5 * 1024 * 1024);
    }

    const down = await lab.down();
    expect(down.existed).toBe(true);
    expect(leftovers(name)).toEqual(NOTHING);
    // idempotent
    expect((await Lab.down(name)).existed).toBe(false);
  });

  it('refuses a lab that already exists, without touching it', async () => {
    const name = labName('x');
    const lab = await Lab.up(twoHost(name, { stack: 'none', paths: 1 }));
    await expect(Lab.up(twoHost(name, { stack: 'none', paths: 1 }))).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('already exists'),
    });
    expect(leftovers(name).namespaces).toHaveLength(2);
    expect((await lab.status()).nodes.every((n) => n.exists)).toBe(true);
    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('shapes with tbf, changes the rate at run time, and takes a link down and up', async () => {
    const name = labName('s');
    const lab = await Lab.up(twoHost(name, { stack: 'none', paths: 1, params: { rateMbps: 20 } }));
    // -O 1: leave slow start out of the figure. The upper bounds are what shows the shaping; the
    // lower ones are sanity bounds far below the rate, so a loaded 2-core machine cannot miss them
    // (the shaped rate itself is a benchmark's figure, not a test's)
    const shaped = await iperf(lab, 'b', '10.0.1.2', 'a', '10.0.1.1', ['-t', '2', '-O', '1']);
    expect(shaped.bps / 1e6).toBeGreaterThan(20 * 0.25);
    expect(shaped.bps / 1e6).toBeLessThan(20 * 1.05);

    const st = await lab.link('a:eth1', { rateMbps: 8 });
    expect(st.ab.rateMbps).toBe(8);
    expect(st.ba.rateMbps).toBe(8);
    const slower = await iperf(lab, 'b', '10.0.1.2', 'a', '10.0.1.1', ['-t', '2', '-O', '1']);
    expect(slower.bps / 1e6).toBeGreaterThan(8 * 0.8);
    expect(slower.bps / 1e6).toBeLessThan(8 * 1.05);
    expect(readState(name)?.model?.links[0]?.ab.rateMbps).toBe(8);

    // delay needs netem; where the kernel lacks it the change is refused by name, nothing changed
    if (!(await netemAvailable())) {
      await expect(lab.link('a:eth1', { delayMs: 10 })).rejects.toThrow(/sch_netem/);
      expect(readState(name)?.model?.links[0]?.ab).toEqual({ rateMbps: 8 });
    }

    const downSt = await lab.link('b:eth1', { up: false });
    expect(downSt.up).toBe(false);
    expect(downSt.counters.a?.operUp).toBe(false);
    await expect(iperf(lab, 'b', '10.0.1.2', 'a', '10.0.1.1', ['-n', '100K'])).rejects.toThrow();
    const upSt = await lab.link('b:eth1', { up: true });
    expect(upSt.up).toBe(true);
    // the policy table's routes came back with the interface
    expect((await lab.exec('a', ['ip', 'route', 'show', 'table', '101'])).stdout).toMatch(
      /10\.0\.1\.0\/24 dev eth1/,
    );
    const again = await iperf(lab, 'b', '10.0.1.2', 'a', '10.0.1.1', ['-t', '1']);
    expect(again.bps / 1e6).toBeGreaterThan(8 * 0.5);
    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('builds a 50-node chain whose routers forward end to end', async () => {
    const name = labName('c');
    const lab = await Lab.up(chain(name, 50));
    expect(leftovers(name).namespaces).toHaveLength(50);
    const r = await iperf(lab, 'n49', '10.0.48.2', 'n0', '10.0.0.1', ['-t', '1']);
    expect(r.bytes).toBeGreaterThan(1024 * 1024);
    expect((await lab.exec('n0', ['ip', 'route', 'get', '10.0.48.2'])).stdout).toMatch(
      /via 10\.0\.0\.2 dev right/,
    );
    const d = await lab.down();
    expect(d.namespaces).toHaveLength(50);
    expect(leftovers(name)).toEqual(NOTHING);
  });

  it('down cleans up after a lab whose builder died, from the state alone', async () => {
    const name = labName('k');
    await Lab.up(twoHost(name, { stack: 'none' }));
    // a stray process inside a node, as a crashed run would leave
    const lab = Lab.open(name);
    const p = spawn('ip', ['netns', 'exec', `mplab-${name}-a`, 'sleep', '600'], {
      detached: true,
      stdio: 'ignore',
    });
    p.unref();
    await new Promise((r) => setTimeout(r, 100));
    expect(await new NetnsBackend().pids(`mplab-${name}-a`)).toEqual([p.pid]);
    const d = await lab.down();
    expect(d.killed).toContain(p.pid);
    expect(leftovers(name)).toEqual(NOTHING);
  });
});

describe.skipIf(!caps.netns)('up failures', () => {
  labScope();

  it('an agent that dies while starting fails up (exit 1, its log named) and leaves nothing', async () => {
    const name = labName('f');
    const dir = mkdtempSync(join(tmpdir(), 'mplab-agent-'));
    const script = join(dir, 'dying-agent.mjs');
    writeFileSync(script, "process.stderr.write('agent: cannot bind 8684\\n'); process.exit(3);\n");
    const saved = process.env.MPLAB_AGENT;
    process.env.MPLAB_AGENT = script;
    try {
      const err = await Lab.up(twoHost(name, { stack: 'ts' })).catch((e: unknown) => e);
      expect(err).toMatchObject({ exitCode: 1 });
      expect((err as Error).message).toMatch(/agent of node '(a|b)' exited during start/);
      expect((err as Error).message).toContain('cannot bind 8684');
      expect(leftovers(name)).toEqual(NOTHING);
    } finally {
      if (saved === undefined) delete process.env.MPLAB_AGENT;
      else process.env.MPLAB_AGENT = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!caps.netns)('switches and IPv6', () => {
  labScope();

  it('bridges a switch segment and routes IPv6 with source policy, reachable right after up', async () => {
    const name = labName('w');
    const lab = await Lab.up(join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures/switch-v6.yaml'), {
      name,
    });
    const b = lab.model.nodes.find((n) => n.name === 'b');
    const c = lab.model.nodes.find((n) => n.name === 'c');
    const targets = [...(b?.addresses ?? []), ...(c?.addresses ?? [])];
    expect(targets.filter((t) => t.includes(':'))).toHaveLength(3);
    // one try each, 0.5 s: a refused connection proves the address answered
    const py = [
      'import socket',
      `for d in ${JSON.stringify(targets)}:`,
      "  s=socket.socket(socket.AF_INET6 if ':' in d else socket.AF_INET); s.settimeout(0.5)",
      "  try: s.connect((d,9)); print(d,'open')",
      "  except ConnectionRefusedError: print(d,'reached')",
      '  except Exception as e: print(d,type(e).__name__)',
    ].join('\n');
    const out = (await lab.exec('a', ['python3', '-c', py])).stdout.trim().split('\n');
    expect(out).toEqual(targets.map((t) => `${t} reached`));
    const rules6 = (await lab.exec('a', ['ip', '-6', 'rule'])).stdout;
    expect(rules6).toMatch(/from fd00:0:0:1::1 lookup \d+/);
    expect(rules6).toMatch(/from fd00:0:0:2::1 lookup \d+/);
    const ports = (await lab.exec('sw', ['bridge', 'link'])).stdout;
    expect(ports.match(/master br0 state forwarding/g)).toHaveLength(3);
    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
  });
});

describe.skipIf(!caps.netns)('down --all', () => {
  labScope();

  it('removes stray namespaces, processes pointing into the run dir and its leftovers', async () => {
    const name = labName('s');
    const ns = `mplab-${name}-x`;
    const dir = join(runDir(), name);
    spawnSync('ip', ['netns', 'add', ns]);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'junk.log'), 'left by a crash\n');
    const inside = spawn('ip', ['netns', 'exec', ns, 'sleep', '600'], { detached: true, stdio: 'ignore' });
    const outside = spawn('python3', ['-c', 'import time; time.sleep(600)', join(dir, 'agent.sock')], {
      detached: true,
      stdio: 'ignore',
    });
    inside.unref();
    outside.unref();
    await new Promise((r) => setTimeout(r, 200));
    const res = await Lab.downAll((n) => n === name || n.startsWith(`${name}-`));
    const killed = res.flatMap((r) => r.killed);
    expect(killed).toContain(inside.pid);
    expect(killed).toContain(outside.pid);
    expect(res.flatMap((r) => r.namespaces)).toContain(ns);
    expect(leftovers(name)).toEqual(NOTHING);
    expect(gone(inside.pid as number)).toBe(true);
    expect(gone(outside.pid as number)).toBe(true);
  });
});
