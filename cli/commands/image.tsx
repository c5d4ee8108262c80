import { copyFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { Box, render, Text } from 'ink';
import { UsageError } from '../../lab/errors';
import { buildImage, nodeImageStatus, projectRoot } from '../../lab/images/build';
import { buildLiveImage, type LiveImage, type LiveStep, liveImageStatus } from '../../lab/images/live/build';
import { type BootCheck, checkLiveBoot } from '../../lab/images/live/check';
import { fmtBytes, printJson, printView } from '../ui/output';
import type { CommandModule } from './types';

interface ImageOpts {
  force?: boolean;
  json?: boolean;
  live?: boolean;
  output?: string;
  kernel?: string;
  modules?: string;
  check?: boolean;
}

interface StepRow {
  id: string;
  label: string;
  detail?: string;
  state: LiveStep['state'];
  started: number;
  ms?: number;
}

function foldStep(rows: StepRow[], s: LiveStep): StepRow[] {
  const i = rows.findIndex((r) => r.id === s.id);
  const now = performance.now();
  const prev = i >= 0 ? rows[i] : undefined;
  const row: StepRow = { id: s.id, label: s.label, state: s.state, started: prev?.started ?? now };
  if (s.detail) row.detail = s.detail;
  if (s.state !== 'start') row.ms = now - row.started;
  if (i < 0) return [...rows, row];
  const out = [...rows];
  out[i] = row;
  return out;
}

function StepsView({ rows }: { rows: StepRow[] }) {
  return (
    <Box flexDirection="column">
      {rows.map((r) => (
        <Text key={r.id}>
          <Text color={r.state === 'start' ? 'yellow' : 'green'}>
            {r.state === 'start' ? ' … ' : r.state === 'skip' ? ' = ' : ' ✓ '}
          </Text>
          {r.label}
          {r.detail ? <Text dimColor> {r.detail}</Text> : null}
          {r.ms !== undefined ? <Text dimColor> ({(r.ms / 1000).toFixed(1)} s)</Text> : null}
        </Text>
      ))}
    </Box>
  );
}

/** Checks -o before anything is built: its folder must exist and it must not be a folder. */
function checkOutput(path: string): string {
  const out = resolve(path);
  if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory())
    throw new UsageError(`-o ${path}: the folder ${dirname(out)} does not exist`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`-o ${path}: is a directory`);
  if (!out.endsWith('.iso')) throw new UsageError(`-o ${path}: the ISO's name must end in .iso`);
  return out;
}

/** Copies the cached ISO to the user's path through a temporary name (no half-written ISO). */
function placeIso(image: LiveImage, out: string): void {
  if (!image.iso) return;
  const tmp = `${out}.partial-${process.pid}`;
  try {
    copyFileSync(image.iso, tmp);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}

async function buildLive(opts: ImageOpts): Promise<void> {
  const out = checkOutput(opts.output ?? 'mplab-live.iso');
  let rows: StepRow[] = [];
  const live = !opts.json && process.stderr.isTTY === true;
  const ink = live
    ? render(<StepsView rows={rows} />, { stdout: process.stderr, patchConsole: false })
    : undefined;
  const onProgress = (s: LiveStep) => {
    rows = foldStep(rows, s);
    if (ink) ink.rerender(<StepsView rows={rows} />);
    else if (!opts.json && s.state !== 'start')
      process.stderr.write(
        `  ${s.state === 'skip' ? '=' : '✓'} ${s.label}${s.detail ? ` ${s.detail}` : ''}\n`,
      );
  };
  let image: LiveImage;
  let check: BootCheck | undefined;
  try {
    image = await buildLiveImage({
      root: projectRoot(),
      iso: true,
      ...(opts.check ? { check: true } : {}),
      ...(opts.force ? { force: true } : {}),
      ...(opts.kernel !== undefined ? { kernel: opts.kernel } : {}),
      ...(opts.modules !== undefined ? { modules: opts.modules } : {}),
      onProgress,
    });
    // the boot check before the ISO is placed: an image that does not boot is not handed out
    if (opts.check) {
      const label = 'booting it (QEMU, TCG, shell mode)';
      onProgress({ id: 'check', label, state: 'start' });
      check = await checkLiveBoot(image);
      onProgress({
        id: 'check',
        label,
        state: 'done',
        detail: `ready in ${check.readySeconds.toFixed(1)} s, node ${check.nodeVersion}`,
      });
    }
  } finally {
    ink?.unmount();
  }
  placeIso(image, out);
  const m = image.manifest;
  if (opts.json) {
    printJson({
      built: image.built,
      version: image.version,
      hash: image.hash,
      iso: out,
      isoBytes: m.isoBytes,
      kernel: image.kernel,
      initrd: image.initrd,
      kernelVersion: m.kernelVersion,
      initrdBytes: m.initrdBytes,
      kernelBytes: m.kernelBytes,
      files: m.files,
      modules: m.modules,
      inputs: m.inputs,
      seconds: image.seconds,
      ...(check ? { check } : {}),
    });
    return;
  }
  printView(
    <Box flexDirection="column">
      <Text>
        {image.built ? 'built' : 'up to date:'} the live image <Text bold>{image.version}</Text> in{' '}
        {image.seconds.toFixed(1)} s
      </Text>
      <Text>
        {'  '}ISO {out} ({fmtBytes(m.isoBytes ?? 0)}, BIOS + UEFI; boots the IETF demo by default)
      </Text>
      <Text>
        {'  '}kernel {image.kernel} ({m.kernelVersion.split(' ')[0]})
      </Text>
      <Text>
        {'  '}initramfs {image.initrd} ({fmtBytes(m.initrdBytes)}, {m.files} files, {m.modules.length}{' '}
        modules)
      </Text>
      {check ? (
        <Text>
          {'  '}boot check: ready in {check.readySeconds.toFixed(1)} s (TCG), node {check.nodeVersion} runs
          inside
          {check.warnings.length ? `; /init said: ${check.warnings.join('; ')}` : ''}
        </Text>
      ) : null}
      <Text dimColor>
        {'  '}try: qemu-system-x86_64 -m 1024 -cdrom {opts.output ?? 'mplab-live.iso'} -nographic
      </Text>
    </Box>,
  );
}

async function status(opts: ImageOpts): Promise<void> {
  const root = projectRoot();
  const [docker, live] = await Promise.all([nodeImageStatus({ root }), liveImageStatus({ root })]);
  if (opts.json) {
    printJson({
      docker,
      live: { ...live, version: live.image?.version ?? null },
    });
    return;
  }
  const d = docker;
  const l = live;
  printView(
    <Box flexDirection="column">
      <Text>
        docker node image: <Text bold>{d.tag}</Text>{' '}
        {d.present === null
          ? `unknown: ${d.reason}`
          : !d.present
            ? 'not built (mplab image build)'
            : `(${d.id?.slice(7, 19)}) ${d.current ? 'current' : `out of date: ${d.reason} (mplab image build)`}`}
      </Text>
      <Text>
        live image:{' '}
        {l.image ? (
          <>
            <Text bold>{l.image.version}</Text> ({l.image.kernelVersion.split(' ')[0]}){' '}
            {l.current ? 'current' : `out of date: ${l.reason} (mplab image build --live)`}
          </>
        ) : (
          'not built (mplab image build --live)'
        )}
      </Text>
      {l.image ? (
        <Text dimColor>
          {'  '}
          {l.image.dir}
          {l.image.isoBytes ? ` (ISO ${fmtBytes(l.image.isoBytes)})` : ''}
        </Text>
      ) : null}
    </Box>,
  );
}

async function action(verb: string, opts: ImageOpts): Promise<void> {
  if (verb === 'status') return status(opts);
  if (verb !== 'build') throw new UsageError(`image: unknown action '${verb}' (expected build or status)`);
  if (!opts.live) {
    for (const [flag, v] of [
      ['-o', opts.output],
      ['--kernel', opts.kernel],
      ['--modules', opts.modules],
      ['--check', opts.check],
    ] as const)
      if (v !== undefined)
        throw new UsageError(`image build: ${flag} applies to the live image only (add --live)`);
  }
  if (opts.live) return buildLive(opts);
  const steps: string[] = [];
  const result = await buildImage({
    root: projectRoot(),
    force: opts.force === true,
    onProgress: (s) => {
      steps.push(s);
      if (!opts.json) process.stderr.write(`  ${s}…\n`);
    },
  });
  if (opts.json) {
    printJson(result);
    return;
  }
  printView(
    <Box flexDirection="column">
      <Text>
        {result.built ? 'built' : 'up to date:'} <Text bold>{result.tag}</Text> ({result.id.slice(7, 19)})
        {result.built ? ` from ${result.files} files` : ''} in {result.seconds.toFixed(2)} s
      </Text>
    </Box>,
  );
}

export const image: CommandModule = {
  name: 'image',
  register(program: Command) {
    program
      .command('image <action>')
      .description('build the offline node image for the Docker backend, or the live image (build | status)')
      .option('--live', 'build the live image: bootable ISO + kernel and initramfs for VM nodes')
      .option('-o, --output <file>', 'where the live ISO goes (with --live)', undefined)
      .option('--kernel <bzImage>', "boot your own kernel instead of Debian's (with --live)")
      .option('--modules <dir>', 'the /lib/modules/<version> tree for --kernel (with --live)')
      .option('--check', 'after building, boot the image under QEMU (TCG) to its ready line (with --live)')
      .option('--force', 'rebuild even when the inputs did not change')
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        "\nThe Docker image is built from this host's files (node, iproute2, busybox, their libraries and dist/agent.js),\nnothing is pulled from a registry. The live image is built from Debian's packages (apt-get download, never\ninstalled on this host), the host's node and dist/; see docs/live-image.md. Both are rebuilt only when an input changes.",
      )
      .action(action);
  },
};
