import type { Command } from 'commander';
import { UsageError } from '../../lab/errors';
import { labOptions, openLab } from '../ui/common';
import { printJson } from '../ui/output';
import type { CommandModule } from './types';

export const exec: CommandModule = {
  name: 'exec',
  register(program: Command) {
    labOptions(
      program
        .command('exec <node> [cmd...]')
        .description('run a command inside a node: mplab exec a -- ip addr (exit code passed through)'),
    ).action(async (node: string, cmd: string[], opts: { lab?: string; json?: boolean }) => {
      if (cmd.length === 0) throw new UsageError('exec: no command given (mplab exec <node> -- <cmd...>)');
      const lab = openLab(opts);
      const r = await lab.exec(node, cmd, { stdio: opts.json ? 'pipe' : 'inherit' });
      if (opts.json)
        printJson({ node, argv: cmd, code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
      // The command's own exit code is the result: end here with it.
      if (r.code !== 0) process.exit(r.code);
    });
  },
};
