import type { Command } from 'commander';
import { Box, Text } from 'ink';
import { UsageError } from '../../lab/errors';
import { buildImage, findImage, imageTag, projectRoot, readDefinition } from '../../lab/images/build';
import { printJson, printView } from '../ui/output';
import type { CommandModule } from './types';

interface ImageOpts {
  force?: boolean;
  json?: boolean;
}

async function action(verb: string, opts: ImageOpts): Promise<void> {
  const root = projectRoot();
  if (verb === 'status') {
    const def = readDefinition(root);
    const tag = imageTag(def);
    const found = await findImage(new (await import('dockerode')).default(), tag);
    if (opts.json) printJson({ tag, present: !!found, id: found?.id, inputs: found?.inputs });
    else printView(<Text>{found ? `${tag} present (${found.id.slice(7, 19)})` : `${tag} not built`}</Text>);
    return;
  }
  if (verb !== 'build') throw new UsageError(`image: unknown action '${verb}' (expected build or status)`);
  const steps: string[] = [];
  const result = await buildImage({
    root,
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
      .description('build the offline node image for the Docker backend (build | status)')
      .option('--force', 'rebuild even when the inputs did not change')
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        "\nThe image is built from this host's files (node, iproute2, busybox, their libraries and dist/agent.js),\nnothing is pulled from a registry; it is rebuilt only when one of them changes.",
      )
      .action(action);
  },
};
