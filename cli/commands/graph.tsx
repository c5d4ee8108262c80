import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../../lab/errors';
import { formatOfPath, GRAPH_FORMATS, type GraphFormat, renderGraph } from '../../lab/graph/index';
import { Lab } from '../../lab/lab';
import { loadTopology } from '../../lab/topology/index';
import { usage } from './run';
import type { CommandModule } from './types';

interface GraphOpts {
  format?: string;
  output?: string;
}

function isFile(target: string): boolean {
  return /\.ya?ml$/i.test(target) || target.includes('/') || existsSync(target);
}

async function action(target: string | undefined, opts: GraphOpts): Promise<void> {
  let format: GraphFormat | undefined;
  if (opts.format !== undefined) {
    if (!GRAPH_FORMATS.includes(opts.format as GraphFormat))
      throw new UsageError(`graph: --format '${opts.format}' is not one of ${GRAPH_FORMATS.join(', ')}`);
    format = opts.format as GraphFormat;
  } else if (opts.output) {
    format = formatOfPath(opts.output);
    if (!format)
      throw new UsageError(
        `graph: cannot tell the format from '${opts.output}' (use .dot, .mmd, .svg, .png, .json or --format)`,
      );
  }
  format ??= 'dot';
  if (format === 'png' && !opts.output) throw new UsageError('graph: PNG goes to a file (-o topology.png)');
  const model = target && isFile(target) ? await usage(() => loadTopology(target)) : Lab.open(target).model;
  const out = renderGraph(model, format);
  if (opts.output) writeFileSync(opts.output, out);
  else process.stdout.write(out);
}

export const graph: CommandModule = {
  name: 'graph',
  register(program: Command) {
    program
      .command('graph [lab-or-file]')
      .description(
        'draw a topology (a file, or a lab that is up) as DOT, Mermaid, SVG or PNG, with addresses and link parameters',
      )
      .option(
        '--format <format>',
        `one of ${GRAPH_FORMATS.join(', ')} (default: from -o's extension, else dot)`,
      )
      .option('-o, --output <file>', 'write to this file instead of stdout')
      .action(action);
  },
};
