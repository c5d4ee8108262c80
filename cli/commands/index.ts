import { campaign } from './campaign';
import { capture } from './capture';
import { console_ } from './console';
import { demo } from './demo';
import { down } from './down';
import { exec } from './exec';
import { graph } from './graph';
import { image } from './image';
import { link } from './link';
import { list } from './list';
import { proxy } from './proxy';
import { report } from './report';
import { run } from './run';
import { shell } from './shell';
import { status } from './status';
import { sysctl } from './sysctl';
import type { CommandModule } from './types';
import { up } from './up';

/** Every command of the architecture, in the order --help lists them. */
export const commands: CommandModule[] = [
  up,
  down,
  status,
  list,
  graph,
  exec,
  console_,
  sysctl,
  link,
  run,
  proxy,
  shell,
  report,
  capture,
  demo,
  campaign,
  image,
];
