/**
 * `--json` means JSON everywhere: a failing command prints `{"error": {"code", "message", "file",
 * "line", "col"}}` on stdout and exits with the same code (2 bad input, 1 runtime failure).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'mplab-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The one JSON document on stdout. */
function doc(out: string): Record<string, unknown> & { error: Record<string, unknown> } {
  return JSON.parse(out) as Record<string, unknown> & { error: Record<string, unknown> };
}

describe('--json errors', () => {
  it('a bad topology: code 2 with file, line and column', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\nnodes:\n  a: {kind: bogus}\n');
    const r = await runCli(['run', 'a', 'b', '--sim', '-t', file, '--json']);
    expect(r.code).toBe(2);
    const e = doc(r.out).error;
    expect(e).toMatchObject({ code: 2, file, line: 3, col: 13 });
    expect(String(e.message)).toMatch(/bogus/);
  });

  it('a bad topology given to up: the same shape', async () => {
    const file = join(dir, 'bad-up.yaml');
    writeFileSync(file, 'name: badup\nnodes:\n  a: {kind: host}\nlinks:\n  - endpoints: [a:eth1, zz:eth1]\n');
    const r = await runCli(['up', file, '--json']);
    expect(r.code).toBe(2);
    expect(doc(r.out).error).toMatchObject({ code: 2, file, line: 5 });
  });

  it('a bad option: code 2, for commander’s errors too', async () => {
    const bogus = await runCli(['run', 'a', 'b', '--bogus', '--json']);
    expect(bogus.code).toBe(2);
    expect(doc(bogus.out).error).toMatchObject({ code: 2, message: expect.stringMatching(/--bogus/) });
    const stack = await runCli(['run', 'a', 'b', '--sim', '--stack', 'quic', '--json']);
    expect(stack.code).toBe(2);
    expect(doc(stack.out).error.message).toMatch(/--stack quic/);
    const status = await runCli(['status', '--lab', 'no-such-lab-numbers', '--json']);
    expect(status.code).toBe(2);
    expect(doc(status.out).error.code).toBe(2);
  });

  it('a runtime failure: code 1, the run result and its error in one document', async () => {
    const file = join(dir, 'dead.yaml');
    writeFileSync(
      file,
      'name: dead\ndefaults:\n  node: {kind: host, stack: ts}\n  link: {rate: 10mbit, loss: 100%}\nnodes:\n  a: {}\n  b: {}\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n',
    );
    const r = await runCli(['run', 'a', 'b', '--sim', '-t', file, '--time', '1', '--json']);
    expect(r.code).toBe(1);
    const d = doc(r.out);
    expect(d.error).toMatchObject({ code: 1, message: expect.stringMatching(/integrity/) });
    expect(d.integrity).not.toBe('ok');
  });

  it('--json-stream: the last line carries the failure', async () => {
    const file = join(dir, 'dead.yaml');
    const r = await runCli(['run', 'a', 'b', '--sim', '-t', file, '--time', '1', '--json-stream']);
    expect(r.code).toBe(1);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; data: { error?: unknown } });
    const last = lines[lines.length - 1]!;
    expect(last.event).toBe('end');
    expect(last.data.error).toMatchObject({ code: 1 });
  });
});

describe('demo --json', () => {
  it('prints the state reports as report objects, not text', async () => {
    const plot = join(dir, 'demo.svg');
    const r = await runCli(['demo', '--sim', '--json', '--duration', '3s', '--plot', plot]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out) as { reports: { node: string; report: { connections: unknown[] } }[] };
    expect(d.reports.map((x) => x.node).sort()).toEqual(['client', 'server']);
    for (const x of d.reports) expect(Array.isArray(x.report.connections)).toBe(true);
  });
});
