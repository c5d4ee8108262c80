/**
 * lab/remote/ssh.ts and agentrpc.ts against Debian's OpenSSH server on "hosts" made by
 * test/helpers/sshhost.ts: exec, streams, SFTP, host key pinning, failures naming the host, and the
 * agent's control protocol over both SSH transports.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClient } from '../../../stack/agent/client';
import { connectRemoteAgent } from '../../../lab/remote/agentrpc';
import { HostKeyMismatchError, SshError, SshSession, shellQuote } from '../../../lab/remote/ssh';
import { caps } from '../../helpers/caps';
import { netnsScope } from '../../helpers/netns';
import { createSshHosts, type SshHostNet, sshHostsScope } from '../../helpers/sshhost';
import { generateKeyPair } from '../../../lab/vm/keys';

netnsScope();
sshHostsScope();

const AGENT = resolve('dist/agent.js');

function fingerprintBySshKeygen(line: string): string {
  const out = execFileSync('ssh-keygen', ['-lf', '-'], { input: `${line}\n`, encoding: 'utf8' });
  return out.split(/\s+/)[1] as string;
}

describe.skipIf(!caps.netns || !caps.sshd)('ssh sessions against a real sshd', () => {
  let net: SshHostNet;
  let s1: SshSession;

  beforeAll(async () => {
    net = await createSshHosts(2);
    s1 = await SshSession.connect(net.hosts[0]!.target());
  }, 30_000);
  afterAll(async () => {
    await s1?.close();
    await net?.cleanup();
  });

  it('runs commands with exit code, stdout, stderr and stdin', async () => {
    const r = await s1.exec('echo out; echo err >&2; exit 3');
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const cat = await s1.exec('cat; printf done', { stdin: 'line1\nline2\n' });
    expect(cat.stdout).toBe('line1\nline2\ndone');
    expect(cat.code).toBe(0);
    const killed = await s1.exec('kill -TERM $$');
    expect(killed.code).toBe(128 + 15);
  });

  it('runs inside the host: its own address, its own /run and /tmp', async () => {
    const h1 = net.hosts[0]!;
    const ip = await s1.exec(shellQuote(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']));
    expect(ip.stdout).toContain(`${h1.address}/24`);
    const marker = `/tmp/mplab-ssh-test-${net.tag}`;
    await s1.exec(shellQuote(['touch', marker, `/run/mplab-ssh-test-${net.tag}`]));
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(`/run/mplab-ssh-test-${net.tag}`)).toBe(false);
    const s2 = await SshSession.connect(net.hosts[1]!.target());
    try {
      expect((await s2.exec(shellQuote(['test', '-e', marker]))).code).toBe(1);
    } finally {
      await s2.close();
    }
    expect(h1.exec(['ls', marker]).trim()).toBe(marker);
  });

  it('quotes argv so every word arrives as it was', async () => {
    const words = ["a b'c", '$HOME', '', '*', 'x;rm -rf /nonexistent', '"q"', 'tab\there', 'new\nline'];
    const r = await s1.exec(shellQuote(['printf', '[%s]\\n', ...words]));
    expect(r.stdout).toBe(words.map((w) => `[${w}]\n`).join(''));
  });

  it('spawns a command as a stream with its exit code', async () => {
    const ch = await s1.spawn(shellQuote(['sh', '-c', 'tr a-z A-Z; echo bye >&2; exit 7']));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    ch.on('data', (b: Buffer) => out.push(b));
    ch.stderr.on('data', (b: Buffer) => err.push(b));
    ch.write('hello ');
    ch.end('world\n');
    expect(await ch.exitCode).toBe(7);
    expect(Buffer.concat(out).toString()).toBe('HELLO WORLD\n');
    expect(Buffer.concat(err).toString()).toBe('bye\n');
  });

  it('uploads bytes and files by SFTP, atomically and with the mode asked for', async () => {
    const dir = `/tmp/mplab-put-${net.tag}`;
    expect((await s1.exec(shellQuote(['mkdir', '-p', dir]))).code).toBe(0);
    await s1.put(Buffer.from('payload\n'), `${dir}/a.txt`, 0o600);
    await s1.put(AGENT, `${dir}/agent.js`, 0o755);
    const r = await s1.exec(
      `stat -c '%a %s' ${shellQuote([`${dir}/a.txt`, `${dir}/agent.js`])}; cat ${dir}/a.txt; ls ${dir} | wc -l`,
    );
    const size = execFileSync('stat', ['-c', '%s', AGENT], { encoding: 'utf8' }).trim();
    expect(r.stdout).toBe(`600 8\n755 ${size}\npayload\n2\n`);
    const sum = (await s1.exec(shellQuote(['sha256sum', `${dir}/agent.js`]))).stdout.split(' ')[0];
    expect(sum).toBe(execFileSync('sha256sum', [AGENT], { encoding: 'utf8' }).split(' ')[0]);
    await expect(s1.put(Buffer.from('x'), '/nonexistent-dir/x')).rejects.toThrow(/host h1: upload/);
  });

  it('refuses a changed host key with its fingerprint, also with acceptNewHostKey', async () => {
    const h2 = net.hosts[1]!;
    const real = h2.hostKey;
    const other = net.hosts[0]!.hostKey;
    const err = await SshSession.connect(h2.target({ hostKey: other }), { acceptNewHostKey: true }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.kind).toBe('changed');
    expect(err.fingerprint).toBe(fingerprintBySshKeygen(real));
    expect(err.message).toContain('host h2');
    expect(err.message).toContain(err.fingerprint);
  });

  it('refuses an unknown host key unless told to accept new keys, then reports the key', async () => {
    const h2 = net.hosts[1]!;
    const err = await SshSession.connect(h2.target({ hostKey: [] })).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.kind).toBe('unknown');
    expect(err.presentedKey).toBe(h2.hostKey);
    const s = await SshSession.connect(h2.target({ hostKey: [] }), { acceptNewHostKey: true });
    expect(s.hostKey).toBe(h2.hostKey);
    expect(s.fingerprint).toBe(fingerprintBySshKeygen(h2.hostKey));
    await s.close();
  });

  it('refuses a host whose key changed after reinstall, accepts the new pin', async () => {
    const h2 = net.hosts[1]!;
    const old = h2.hostKey;
    await h2.rotateHostKey();
    const err = await SshSession.connect(h2.target({ hostKey: old })).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.fingerprint).toBe(fingerprintBySshKeygen(h2.hostKey));
    const s = await SshSession.connect(h2.target({ hostKey: [old, h2.hostKey] }));
    expect((await s.exec('true')).code).toBe(0);
    await s.close();
  });

  it('fails naming the host when sshd is down, and when the key is not authorized', async () => {
    const h2 = net.hosts[1]!;
    const stranger = generateKeyPair('mplab-test-stranger').private;
    const auth = await SshSession.connect(h2.target({ privateKey: stranger })).catch((e) => e);
    expect(auth).toBeInstanceOf(SshError);
    expect(auth.message).toMatch(/host h2: authentication as root/);
    await h2.stop();
    try {
      const t0 = Date.now();
      const err = await SshSession.connect(h2.target(), { timeoutMs: 5000 }).catch((e) => e);
      expect(err).toBeInstanceOf(SshError);
      expect(err.message).toMatch(new RegExp(`^host h2: cannot connect to ${h2.address}:22`));
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await h2.start();
    }
  });

  it('notices a dropped connection', async () => {
    const h2 = net.hosts[1]!;
    const s = await SshSession.connect(h2.target());
    await s.exec('true');
    // Only this session's sshd processes run beside the listener on h2 now: cut them off.
    const daemons = new Set(h2.daemonPids());
    const mine = h2.pids().filter((p) => !daemons.has(p));
    expect(mine.length).toBeGreaterThan(0);
    for (const p of mine) process.kill(p, 'SIGKILL');
    await s.closed();
    expect(s.isOpen).toBe(false);
    await expect(s.exec('true')).rejects.toThrow(/host h2: connection/);
  });

  describe('the agent over SSH', () => {
    let agentPid: number;
    const sock = '/run/mplab-agent-test.sock';
    // the agent as a deploy puts it on the host: a host's /tmp is its own, so a checkout under /tmp
    // (a CI clone, say) is not visible there
    const remoteAgent = '/run/mplab-agent-test.js';
    let clients: AgentClient[] = [];

    beforeAll(async () => {
      expect(existsSync(AGENT)).toBe(true);
      const h1 = net.hosts[0]!;
      await s1.put(AGENT, remoteAgent, 0o644);
      const log = '/tmp/mplab-agent-test.log';
      const r = await s1.exec(
        `${shellQuote(['setsid', 'nohup', process.execPath, remoteAgent, '--socket', sock, '--log', log, '--addresses', h1.address, '--proxy-port', '0'])} >/dev/null 2>&1 </dev/null & echo $!`,
      );
      agentPid = Number(r.stdout.trim());
      for (let i = 0; i < 100; i++) {
        if ((await s1.exec(shellQuote(['test', '-S', sock]))).code === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }, 20_000);
    afterAll(async () => {
      for (const c of clients) await c.close();
      clients = [];
      if (agentPid) await s1.exec(shellQuote(['kill', String(agentPid)]));
    });

    for (const transport of ['streamlocal', 'exec', 'auto'] as const) {
      it(`talks JSON-RPC to a remote agent over ${transport}`, async () => {
        expect(existsSync(sock)).toBe(false); // the socket is in h1's private /run
        const c = await connectRemoteAgent(s1, {
          socket: sock,
          transport,
          agentScript: remoteAgent,
          node: process.execPath,
        });
        clients.push(c);
        const pong = await c.call('ping');
        expect(pong.pong).toBe(true);
        const set = await c.call('sysctl.set', { name: 'net.mptcp.mptcp_ndiffports', value: 3 });
        expect(set).toBeTruthy();
        const got = await c.call('sysctl.get', { name: 'net.mptcp.mptcp_ndiffports' });
        expect(got.value).toBe(3);
      });
    }

    it('names the host and the socket when no agent answers', async () => {
      for (const transport of ['streamlocal', 'exec', 'auto'] as const) {
        const err = await connectRemoteAgent(s1, {
          socket: '/run/nothing-here.sock',
          transport,
          agentScript: remoteAgent,
          node: process.execPath,
        }).catch((e) => e);
        expect(err).toBeInstanceOf(Error);
        expect(err.message).toMatch(/host h1/);
        expect(err.message).toMatch(/nothing-here\.sock/);
      }
    });
  });
});
