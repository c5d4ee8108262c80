import type { Command } from 'commander';
import { Lab } from '../../lab/lab';

export interface LabOpts {
  lab?: string;
  json?: boolean;
}

/** Adds --lab and --json to a command that targets a running lab. */
export function labOptions(cmd: Command): Command {
  return cmd
    .option('-l, --lab <name>', 'the lab (may be omitted when exactly one lab is up)')
    .option('--json', 'print JSON instead of the human view');
}

export function openLab(opts: LabOpts): Lab {
  return Lab.open(opts.lab);
}
