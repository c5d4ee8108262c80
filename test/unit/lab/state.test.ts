import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  percentArg as parsePercent,
  rateArg as parseRate,
  timeArg as parseDuration,
} from '../../../lab/topology/units';
import { LabExistsError, listLabs, readState, removeLabDir, StateFile, statePath } from '../../../lab/state';

let dir: string;
const saved = process.env.MPLAB_RUN_DIR;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mplab-state-'));
  process.env.MPLAB_RUN_DIR = dir;
});
afterEach(() => {
  if (saved === undefined) delete process.env.MPLAB_RUN_DIR;
  else process.env.MPLAB_RUN_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe('lab state (intent log)', () => {
  it('claims the lab directory once and refuses a second claim', () => {
    const sf = StateFile.create({ lab: 'x', backend: 'netns', file: '/t.yaml' });
    expect(sf.state.phase).toBe('creating');
    expect(() => StateFile.create({ lab: 'x', backend: 'netns', file: '/t.yaml' })).toThrow(LabExistsError);
    expect(listLabs()).toEqual(['x']);
  });

  it('every record is on disk before record() returns, written atomically', () => {
    const sf = StateFile.create({ lab: 'y', backend: 'netns', file: '/t.yaml' });
    sf.record((s) => s.namespaces.push('mplab-y-a'));
    expect(JSON.parse(readFileSync(statePath('y'), 'utf8')).namespaces).toEqual(['mplab-y-a']);
    sf.record((s) => s.processes.push({ kind: 'agent', owner: 'a', socket: '/s' }));
    expect(readState('y')?.processes).toEqual([{ kind: 'agent', owner: 'a', socket: '/s' }]);
    expect(readdirSync(join(dir, 'y'))).toEqual(['state.json']);
  });

  it('reads back nothing for a missing, foreign or corrupt state', () => {
    expect(readState('nope')).toBeUndefined();
    const sf = StateFile.create({ lab: 'z', backend: 'netns', file: '/t.yaml' });
    sf.record((s) => {
      s.lab = 'other';
    });
    expect(readState('z')).toBeUndefined();
    removeLabDir('z');
    expect(listLabs()).toEqual([]);
  });
});

describe('runtime link units', () => {
  it('parses rates, times and percentages strictly', () => {
    expect(parseRate('20mbit')).toBe(20);
    expect(parseRate('500kbit')).toBe(0.5);
    expect(parseRate('1gbit')).toBe(1000);
    expect(parseRate('none')).toBeNull();
    expect(parseDuration('10ms')).toBe(10);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('250us')).toBe(0.25);
    expect(parsePercent('0.5%')).toBe(0.5);
    for (const bad of ['20', '20mb/s', 'fast', '-1mbit', '0mbit'])
      expect(() => parseRate(bad)).toThrow(/rate/);
    expect(() => parseDuration('10 parsecs')).toThrow(/time unit/);
    expect(() => parsePercent('1')).toThrow(/percentage/);
    expect(() => parsePercent('101%')).toThrow(/at most 100%/);
    // one grammar: what a topology file refuses, `mplab link` refuses too, and the other way round
    expect(() => parseRate('20mbps')).toThrow(/ambiguous rate unit "mbps"/);
    expect(parseDuration('2min')).toBe(120_000);
  });
});

describe('Lab.open from state alone', () => {
  it('resolves endpoints and refuses unknown nodes, interfaces and bad specs with usage errors', async () => {
    const { Lab } = await import('../../../lab/lab');
    const { twoHost } = await import('../../integration/lab/models');
    const model = twoHost('u');
    const sf = StateFile.create({ lab: 'u', backend: 'netns', file: '/t.yaml', model });
    sf.record((s) => {
      s.phase = 'up';
    });
    const lab = Lab.open();
    expect(lab.name).toBe('u');
    const e = lab.endpoint('b:eth2');
    expect([e.link.id, e.end, e.iface]).toEqual(['l2', 'b', 'eth2']);
    for (const bad of ['b', 'b:', ':eth1', 'c:eth1', 'a:eth9'])
      expect(() => lab.endpoint(bad), bad).toThrow(expect.objectContaining({ exitCode: 2 }));
    await expect(lab.exec('zz', ['true'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(lab.sysctl('a', [])).rejects.toMatchObject({ exitCode: 1 });
    expect(() => Lab.open('nope')).toThrow(/no lab named 'nope'/);
    StateFile.create({ lab: 'v', backend: 'netns', file: '/t.yaml', model: twoHost('v') });
    expect(() => Lab.open()).toThrow(/several labs are up \(u, v\)/);
  });
});
