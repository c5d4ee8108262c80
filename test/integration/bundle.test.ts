import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURE_COMMANDS } from '../helpers/commands';
import { type Bundle, bundle, root } from './lab/bundle';

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
let built: Bundle;
let empty = '';

beforeAll(async () => {
  built = await bundle();
  empty = mkdtempSync(join(tmpdir(), 'mplab-empty-'));
});

afterAll(() => {
  built?.remove();
  rmSync(empty, { recursive: true, force: true });
});

describe('the bundles', () => {
  it('dist/agent.js runs with node alone, from an empty directory', () => {
    const copy = join(empty, 'agent.js');
    copyFileSync(built.agent!, copy);
    const v = execFileSync(process.execPath, [copy, '--version'], { cwd: empty, encoding: 'utf8' });
    expect(v.trim()).toContain(version);
  });

  it('dist/cli.js has a shebang and answers --help with every command of the architecture', () => {
    expect(readFileSync(built.cli, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    const help = execFileSync(process.execPath, [built.cli, '--help'], { encoding: 'utf8' });
    for (const c of ARCHITECTURE_COMMANDS) {
      expect(help).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    }
    expect(execFileSync(process.execPath, [built.cli, '--version'], { encoding: 'utf8' }).trim()).toBe(
      version,
    );
  });
});
