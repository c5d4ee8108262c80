import { campaign } from './campaign';
import { capture } from './capture';
import { demo } from './demo';
import { down } from './down';
import { exec } from './exec';
import { image } from './image';
import { link } from './link';
import { report } from './report';
import { run } from './run';
import { status } from './status';
import { sysctl } from './sysctl';
import type { CommandModule } from './types';
import { up } from './up';

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
  image,
];
