import { Box, Text } from 'ink';
import type { VmBootProgress } from '../../lab/backends/vm/index';
import type { UpProgress, UpStep } from '../../lab/lab';
import { fmtMs } from './output';

const LABELS: Record<UpStep, string> = {
  load: 'topology',
  check: 'checks',
  image: 'node image',
  nodes: 'nodes',
  boot: 'VMs booted',
  links: 'links',
  emulator: 'emulated links',
  configure: 'addresses, routes',
  shaping: 'shaping',
  agents: 'agents',
  knobs: 'knobs',
};

export interface StepView {
  step: UpStep;
  done: boolean;
  ms?: number;
  count?: number;
}

/** Folds VM boot events into one line per VM (the latest state of each). */
export function foldVmBoot(vms: VmBootProgress[], p: VmBootProgress): VmBootProgress[] {
  const i = vms.findIndex((v) => v.node === p.node);
  const merged = { ...(i >= 0 ? vms[i] : {}), ...p };
  if (i < 0) return [...vms, merged];
  const out = [...vms];
  out[i] = merged;
  return out;
}

const VM_COLORS: Record<VmBootProgress['state'], string> = {
  queued: 'gray',
  booting: 'yellow',
  ssh: 'yellow',
  ready: 'green',
  failed: 'red',
};

/** Folds progress events into the list of steps shown. */
export function foldProgress(steps: StepView[], p: UpProgress): StepView[] {
  const i = steps.findIndex((s) => s.step === p.step);
  const v: StepView = { step: p.step, done: p.state === 'done' };
  if (p.ms !== undefined) v.ms = p.ms;
  if (p.count !== undefined) v.count = p.count;
  if (i < 0) return [...steps, v];
  const out = [...steps];
  out[i] = v;
  return out;
}

export function UpView({
  lab,
  steps,
  totalMs,
  error,
  vms,
}: {
  lab: string;
  steps: StepView[];
  totalMs?: number;
  error?: string;
  vms?: VmBootProgress[];
}) {
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>mplab up</Text> {lab}
      </Text>
      {steps.map((s) => (
        <Text key={s.step}>
          {'  '}
          <Text color={s.done ? 'green' : 'yellow'}>{s.done ? '✔' : '…'}</Text> {LABELS[s.step].padEnd(18)}
          {s.count !== undefined ? String(s.count).padStart(4) : '    '} <Text dimColor>{fmtMs(s.ms)}</Text>
        </Text>
      ))}
      {(vms ?? []).map((v) => (
        <Text key={`vm-${v.node}`}>
          {'    '}
          <Text color={VM_COLORS[v.state]}>{v.state.padEnd(8)}</Text> VM {v.node.padEnd(12)}
          <Text dimColor>
            {v.accel ?? ''} {fmtMs(v.ms)}
          </Text>
        </Text>
      ))}
      {totalMs !== undefined && !error ? (
        <Text color="green">
          lab {lab} is up in {fmtMs(totalMs)}
        </Text>
      ) : null}
      {error ? <Text color="red">{error}</Text> : null}
    </Box>
  );
}
