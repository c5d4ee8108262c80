import type { Command } from 'commander';
import { Text } from 'ink';
import { UsageError } from '../../lab/errors';
import { type DownResult, Lab } from '../../lab/lab';
import { inventoryPath } from '../../lab/remote/inventory';
import { fmtMs, printJson, printView } from '../ui/output';
import type { CommandModule } from './types';

function View({ results }: { results: DownResult[] }) {
  if (results.length === 0 || results.every((r) => !r.existed)) return <Text>nothing to remove</Text>;
  return (
    <>
      {results
        .filter((r) => r.existed)
        .map((r) => (
          <Text key={r.lab}>
            <Text color="green">✔</Text> {r.lab === '*' ? 'stray mplab objects' : `lab ${r.lab}`} down:{' '}
            {r.namespaces.length} namespace(s), {r.killed.length} process(es) in {fmtMs(r.ms)}
          </Text>
        ))}
    </>
  );
}

export const down: CommandModule = {
  name: 'down',
  register(program: Command) {
    program
      .command('down [lab]')
      .description('tear a lab down (--all: every mplab object on this machine)')
      .option('-a, --all', 'remove every lab and everything with the mplab prefix')
      .option('--hosts <file>', 'with --all: also every host of this inventory (default: $MPLAB_HOSTS)')
      .option('--accept-new-host-keys', 'trust hosts whose key is not pinned yet')
      .option('--json', 'print JSON instead of the human view')
      .action(
        async (
          name: string | undefined,
          opts: { all?: boolean; json?: boolean; hosts?: string; acceptNewHostKeys?: boolean },
        ) => {
          if (opts.all && name) throw new UsageError('down: give a lab name or --all, not both');
          if (opts.hosts && !opts.all)
            throw new UsageError("down: --hosts goes with --all (a lab's own hosts are in its record)");
          const hosts = opts.all ? inventoryPath(opts.hosts) : undefined;
          const results = opts.all
            ? await Lab.downAll(undefined, {
                ...(hosts !== undefined ? { hosts } : {}),
                acceptNewHostKeys: opts.acceptNewHostKeys === true,
              })
            : [await Lab.down(name)];
          if (opts.json) printJson(results);
          else printView(<View results={results} />);
        },
      );
  },
};
