/** The project version, injected by the bundler; from source (tests) it reads package.json. */
declare const __MPLAB_VERSION__: string | undefined;

import { readFileSync } from 'node:fs';

function fromPackageJson(): string {
  const url = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export const VERSION: string = typeof __MPLAB_VERSION__ === 'string' ? __MPLAB_VERSION__ : fromPackageJson();
