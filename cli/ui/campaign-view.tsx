/** The campaign's progress bar with ETA, and its closing summary. */
import { Box, Text } from 'ink';
import type { CampaignOutcome, CampaignProgress } from '../../lab/campaign/runner';

function eta(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return 'ETA –';
  if (s >= 3600)
    return `ETA ${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `ETA ${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `ETA ${Math.round(s)}s`;
}

export function progressBar(done: number, total: number, width = 30): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

export function progressLine(p: CampaignProgress): string {
  const cur = p.current ? `  ${p.current.id}` : '';
  return `[${progressBar(p.done, p.total)}] ${p.done}/${p.total}  ${eta(p.etaSeconds)}  skipped ${p.skipped}  failed ${p.failed}${cur}`;
}

export function CampaignView({ name, p, sim }: { name: string; p: CampaignProgress; sim: boolean }) {
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>mplab campaign</Text> {name}
        {sim ? <Text dimColor> (simulated)</Text> : null}
      </Text>
      <Text>
        <Text color="cyan">{progressBar(p.done, p.total)}</Text> {p.done}/{p.total}{' '}
        <Text dimColor>{eta(p.etaSeconds)}</Text>
        {p.skipped ? <Text dimColor> · {p.skipped} already done</Text> : null}
        {p.failed ? <Text color="red"> · {p.failed} failed</Text> : null}
      </Text>
      {p.current ? <Text dimColor>running {p.current.id}</Text> : null}
    </Box>
  );
}

export function CampaignSummary({
  outcome,
  dir,
  planned,
}: {
  outcome: CampaignOutcome;
  dir: string;
  /** With `campaign report`: how many runs the matrix plans (a partial campaign has fewer). */
  planned?: number;
}) {
  return (
    <Box flexDirection="column">
      <Text>
        {planned !== undefined
          ? `${outcome.runs.length} of ${planned} runs made${outcome.runs.length < planned ? ' (partial campaign)' : ''}`
          : `${outcome.runs.length} runs (${outcome.ranNow} now, ${outcome.skipped} from before, ${outcome.failed} failed)`}
        {outcome.stopped ? <Text color="yellow"> — stopped; run again with --resume to finish</Text> : null}
      </Text>
      {outcome.cells.map((c) => (
        <Text key={c.cell}>
          {'  '}
          {Object.entries(c.assignments)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' ')
            .padEnd(60)}{' '}
          {Number.isFinite(c.goodputMbps.mean) ? c.goodputMbps.mean.toFixed(2) : '–'} Mbit/s
          {Number.isFinite(c.goodputMbps.ci95) ? ` ± ${c.goodputMbps.ci95.toFixed(2)}` : ''} (n=
          {c.goodputMbps.n})
          {c.highVariance ? <Text color="yellow"> ⚠ cv {c.cv.toFixed(2)}: runs disagree</Text> : null}
        </Text>
      ))}
      <Text dimColor>
        {dir}: results.csv, summary.md, summary.json, sessions.json, goodput.svg, goodput.png, runs/*.json
      </Text>
    </Box>
  );
}
