/** dist/host.js: what the controller runs on a remote host (see hostside.ts). */
import { hostMain } from './hostside';

void hostMain(process.argv.slice(2));
