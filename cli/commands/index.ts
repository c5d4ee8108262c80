import { planned } from './planned';
import type { CommandModule } from './types';

const LAB = 'Lab: topology files, netns backend, link shaping, agents';
const TRAFFIC = 'Traffic runs, scenario events, the IETF live-CD demo, plots and campaigns';
const DOCKER = 'Docker backend (dockerode) and offline node images';

/** Every command of the architecture, in the order --help lists them. */
export const commands: CommandModule[] = [
  planned('up', '<file>', 'build a lab from a topology file and start its agents', 7, LAB),
  planned('down', '[lab]', 'tear a lab down (--all: every mplab object on this machine)', 7, LAB),
  planned('status', '[lab]', 'show nodes, links, agents and counters of a lab', 7, LAB),
  planned('exec', '<node> [cmd...]', 'run a command inside a node', 7, LAB),
  planned('sysctl', '<target> [assignments...]', "read or set the stack's /proc-style knobs", 7, LAB),
  planned('link', '<endpoint>', 'change a link at run time: rate, delay, loss, up/down', 7, LAB),
  planned('run', '<from> <to>', 'run a bulk transfer between two nodes and watch its subflows', 8, TRAFFIC),
  planned('report', '[node]', "print the stack's state report with the mapping table", 7, LAB),
  planned('capture', '<endpoint>', 'capture packets on a node interface to a pcap file', 7, LAB),
  planned(
    'demo',
    '[name]',
    'reproduce the IETF MPTCP live-CD demo (WiFi + 3G, WiFi lost and back)',
    8,
    TRAFFIC,
  ),
  planned('campaign', '<file>', 'run a benchmark campaign: parameter matrix x repetitions', 8, TRAFFIC),
  planned('image', '<action>', 'build the offline node image for the Docker backend', 11, DOCKER),
];
