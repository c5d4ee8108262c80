import { campaign } from './campaign';
import { capture } from './capture';
import { demo } from './demo';
import { down } from './down';
import { exec } from './exec';
import { link } from './link';
import { planned } from './planned';
import { report } from './report';
import { run } from './run';
import { status } from './status';
import { sysctl } from './sysctl';
import type { CommandModule } from './types';
import { up } from './up';

const DOCKER = 'Docker backend (dockerode) and offline node images';

/** Every command of the architecture, in the order --help lists them. */
export const commands: CommandModule[] = [
  up,
  down,
  status,
  exec,
  sysctl,
  link,
  run,
  report,
  capture,
  demo,
  campaign,
  planned('image', '<action>', 'build the offline node image for the Docker backend', 11, DOCKER),
];
