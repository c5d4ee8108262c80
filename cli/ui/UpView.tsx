import { Box, Text } from 'ink';
import type { UpProgress, UpStep } from '../../lab/lab';
import { fmtMs } from './output';

const LABELS: Record<UpStep, string> = {
  load: 'topology',
  check: 'checks',
  image: 'node image',
  nodes: 'nodes',
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
}: {
  lab: string;
  steps: StepView[];
  totalMs?: number;
  error?: string;
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
      {totalMs !== undefined && !error ? (
        <Text color="green">
          lab {lab} is up in {fmtMs(totalMs)}
        </Text>
      ) : null}
      {error ? <Text color="red">{error}</Text> : null}
    </Box>
  );
}
