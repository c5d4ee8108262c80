/** Writes a run's plot: SVG or PNG by the file's extension. */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { UsageError } from '../errors';
import { svgToPng } from '../plot/png';
import { type SvgOptions, timelineSvg } from '../plot/svg';
import type { RunResult } from './result';

export function checkPlotPath(file: string): 'svg' | 'png' {
  const ext = extname(file).toLowerCase();
  if (ext === '.svg') return 'svg';
  if (ext === '.png') return 'png';
  throw new UsageError(`--plot ${file}: the file name must end in .svg or .png`);
}

/** Renders the run's timeline with its events marked; returns the bytes written. */
export function writePlot(result: RunResult, file: string, options: SvgOptions = {}): number {
  const kind = checkPlotPath(file);
  const svg = timelineSvg(result, options);
  const data = kind === 'svg' ? Buffer.from(svg) : svgToPng(svg, 1.5);
  writeFileSync(file, data);
  return data.length;
}
