import { connect } from 'node:net';
import type { Command } from 'commander';
import { RuntimeFailure } from '../../lab/errors';
import { labOptions, openLab } from '../ui/common';
import type { CommandModule } from './types';

/** Ctrl-] detaches, as telnet and virsh console do. */
const DETACH = 0x1d;

export const console_: CommandModule = {
  name: 'console',
  register(program: Command) {
    labOptions(
      program
        .command('console <node>')
        .description("attach to a VM node's serial console (Ctrl-] detaches; the VM keeps running)"),
    ).action(async (node: string, opts: { lab?: string }) => {
      const path = openLab(opts).vmConsole(node);
      const sock = connect({ path });
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', (e) => reject(new RuntimeFailure(`console of '${node}': ${e.message}`)));
      });
      process.stderr.write(`connected to ${node}'s serial console; Ctrl-] detaches\n`);
      const tty = process.stdin.isTTY === true;
      if (tty) process.stdin.setRawMode(true);
      const done = new Promise<void>((resolve) => {
        const end = () => {
          if (tty) process.stdin.setRawMode(false);
          process.stdin.pause();
          sock.destroy();
          resolve();
        };
        process.stdin.on('data', (d: Buffer) => {
          const k = d.indexOf(DETACH);
          if (k >= 0) {
            if (k > 0) sock.write(d.subarray(0, k));
            end();
          } else sock.write(d);
        });
        process.stdin.on('end', end);
        sock.on('data', (d) => process.stdout.write(d));
        sock.on('close', end);
      });
      // A console without a terminal (a script) only sends what it is given: a newline to wake it.
      if (!tty) sock.write('\n');
      await done;
    });
  },
};
