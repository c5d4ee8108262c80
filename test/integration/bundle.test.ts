import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
let out = '';
let empty = '';

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'mplab-bundle-'));
  empty = mkdtempSync(join(tmpdir(), 'mplab-empty-'));
  execFileSync(process.execPath, ['scripts/bundle.mjs', '--outdir', out], { cwd: root, stdio: 'pipe' });
});

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});

describe('the bundles', () => {
  it('dist/agent.js runs with node alone, from an empty directory', () => {
    const copy = join(empty, 'agent.js');
    copyFileSync(join(out, 'agent.js'), copy);
    const v = execFileSync(process.execPath, [copy, '--version'], { cwd: empty, encoding: 'utf8' });
    expect(v.trim()).toContain(version);
  });

  it('dist/cli.js has a shebang and answers --help with every planned command', () => {
    const cli = join(out, 'cli.js');
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    for (const c of [
      'up',
      'down',
      'status',
      'exec',
      'sysctl',
      'link',
      'run',
      'report',
      'capture',
      'demo',
      'campaign',
      'image',
    ]) {
      expect(help).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    }
    expect(execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim()).toBe(version);
  });
});
