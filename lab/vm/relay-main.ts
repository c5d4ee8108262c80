/** Entry of the VM agent relay (dist/vmrelay.js): `node vmrelay.js --config FILE`. See relay.ts. */
import { readRelayConfig, runRelay } from './relay';

const i = process.argv.indexOf('--config');
const file = i > 0 ? process.argv[i + 1] : undefined;
if (!file) {
  process.stderr.write('vmrelay: --config FILE is required\n');
  process.exit(2);
}
const cfg = readRelayConfig(file);
// --socket names the relay in the process list (status and down look for it); it must agree.
const j = process.argv.indexOf('--socket');
if (j > 0 && process.argv[j + 1] !== cfg.socket) {
  process.stderr.write(`vmrelay: --socket ${process.argv[j + 1]} is not the config's ${cfg.socket}\n`);
  process.exit(2);
}
runRelay(cfg).catch((e: Error) => {
  process.stderr.write(`vmrelay: ${e.message}\n`);
  process.exit(1);
});
