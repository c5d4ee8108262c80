/**
 * The documentation's mplab commands, run: each file's commands in the order the file gives them,
 * in a scratch directory (with the repository's topologies beside it). A lab the docs bring up is
 * given a unique name (`up … --name`, `--lab` on the commands that act on it, `down NAME`), so a
 * user's own lab of the same topology is never touched. Commands that need an input file the docs
 * only describe, or that take minutes (the full demo, image builds, campaigns), are listed as not
 * run; everything else must exit 0.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main';
import { Lab } from '../../lab/lab';
import { caps } from '../helpers/caps';
import { type DocCommand, docCommands } from '../helpers/doc-commands';
import { labName, labScope } from './lab/helpers';
import { type Bundle, bundle, ensureDistAgent, root } from './lab/bundle';

const pexec = promisify(execFile);

const program = buildProgram();
// commands whose first argument is the lab (status [lab], graph [lab-or-file]): given none, they
// act on the only lab that is up — which on a shared machine may be someone else's
const labArgument = new Set(
  program.commands.filter((c) => /^lab/.test(c.registeredArguments[0]?.name() ?? '')).map((c) => c.name()),
);
const takesLab = new Set(
  program.commands.filter((c) => c.options.some((o) => o.long === '--lab')).map((c) => c.name()),
);
// minutes-long builds and campaigns; the interactive shell; exec, which runs whatever program a
// doc shows (servers that never end among them)
const LONG = new Set(['image', 'campaign', 'shell', 'exec']);
const OUTPUT_OPTIONS = new Set(['--plot', '-o', '--output', '--pcap', '--csv', '--capture']);

/** Input files a command names that do not exist (the docs describe them, e.g. scenario.yaml). */
function missingInputs(argv: string[], cwd: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i] as string;
    if (OUTPUT_OPTIONS.has(w)) {
      i++;
      continue;
    }
    if (/\.(ya?ml|json|csv|pcap)$/.test(w) && !existsSync(join(cwd, w))) out.push(w);
  }
  return out;
}

/**
 * An `up` that boots QEMU VMs (`--backend vm`, or a topology with `backend: vm`): minutes under TCG
 * and the live image's build first; test/integration/vm/ runs those.
 */
function bootsVms(argv: string[], cwd: string): boolean {
  if (argv[0] !== 'up') return false;
  if (argv.some((w, i) => (w === '--backend' || w === '-b') && argv[i + 1] === 'vm')) return true;
  const file = argv.slice(1).find((w) => /\.ya?ml$/.test(w));
  return (
    file !== undefined &&
    existsSync(join(cwd, file)) &&
    /backend:\s*vm\b/.test(readFileSync(join(cwd, file), 'utf8'))
  );
}

const byFile = new Map<string, DocCommand[]>();
for (const c of docCommands(root)) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);

describe.skipIf(!caps.netns)('the documentation’s mplab commands, run', () => {
  labScope();
  // the CLI as users get it (bundled from this checkout's sources), run from a scratch directory
  let built: Bundle;
  beforeAll(async () => {
    built = await bundle();
  }, 120_000);
  afterAll(() => built?.remove());

  it.each([...byFile.keys()])(
    '%s',
    async (file) => {
      await ensureDistAgent();
      const cwd = mkdtempSync(join(tmpdir(), 'mplab-doc-'));
      symlinkSync(join(root, 'topologies'), join(cwd, 'topologies'));
      symlinkSync(join(root, 'examples'), join(cwd, 'examples'));
      const name = labName('doc');
      let labUp = false;
      const notRun: string[] = [];
      try {
        for (const c of byFile.get(file) ?? []) {
          const [cmd] = c.argv;
          const sim = c.argv.includes('--sim');
          let argv = [...c.argv];
          const missing = missingInputs(argv, cwd);
          if (missing.length > 0 || LONG.has(cmd ?? '') || (cmd === 'demo' && !sim) || bootsVms(argv, cwd)) {
            notRun.push(
              `${c.file}:${c.line} ${c.text}${missing.length ? ` (needs ${missing.join(', ')})` : ''}`,
            );
            continue;
          }
          if (cmd === 'up') {
            if (labUp) continue;
            argv = [...argv, '--name', name];
            labUp = true;
          } else if (cmd === 'down') {
            if (!labUp) continue;
            argv = ['down', name];
            labUp = false;
          } else if (cmd && labArgument.has(cmd) && argv.slice(1).every((w) => w.startsWith('-'))) {
            if (!labUp) {
              notRun.push(`${c.file}:${c.line} ${c.text} (no lab up before it in the file)`);
              continue;
            }
            argv = [cmd, name, ...argv.slice(1)];
          } else if (
            cmd &&
            takesLab.has(cmd) &&
            (!sim || !(argv.includes('-t') || argv.includes('--topology')))
          ) {
            // a --sim run without a topology file simulates the lab that is up: aim it at ours too
            if (!labUp) {
              notRun.push(`${c.file}:${c.line} ${c.text} (no lab up before it in the file)`);
              continue;
            }
            argv = [...argv, '--lab', name];
          }
          const r = await pexec(process.execPath, [built.cli, ...argv], {
            cwd,
            maxBuffer: 64 * 1024 * 1024,
          }).then(
            () => ({ code: 0, err: '' }),
            (e: { code: number; stdout: string; stderr: string }) => ({
              code: e.code,
              err: `${e.stdout.slice(-2000)}\n${e.stderr.slice(-2000)}`,
            }),
          );
          expect(r.code, `${c.file}:${c.line}: mplab ${argv.join(' ')}\n${r.err}`).toBe(0);
        }
      } finally {
        if (labUp) await Lab.down(name).catch(() => {});
        rmSync(cwd, { recursive: true, force: true });
      }
      if (notRun.length > 0) process.stdout.write(`not run (by design):\n  ${notRun.join('\n  ')}\n`);
    },
    300_000,
  );
});
