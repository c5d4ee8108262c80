/**
 * koffi and the C library, loaded once on first use, for the stack's parts that call libc directly
 * (the TUN device, the kernel MPTCP traffic end). koffi is a native addon the agent bundle cannot
 * inline: it resolves from the node_modules above the bundle or the sources, or in a VM guest
 * through NODE_PATH, and is asked for only by a feature that needs it.
 */
import { createRequire } from 'node:module';
import type Koffi from 'koffi';
import type { LibraryHandle } from 'koffi';

export type KoffiModule = typeof Koffi;
export type LibcFn = ReturnType<LibraryHandle['func']>;

let loaded: { koffi: KoffiModule; lib: LibraryHandle } | undefined;

/** koffi and libc.so.6; `feature` names what needs them in the error when koffi is missing. */
export function loadLibc(feature: string): { koffi: KoffiModule; lib: LibraryHandle } {
  if (loaded) return loaded;
  let koffi: KoffiModule;
  try {
    // A require of our own, which bundlers leave alone (koffi must stay external).
    koffi = createRequire(import.meta.url)('koffi') as KoffiModule;
  } catch (e) {
    throw new Error(
      `${feature} needs the koffi package (node_modules or NODE_PATH): ${(e as Error).message}`,
    );
  }
  loaded = { koffi, lib: koffi.load('libc.so.6') };
  return loaded;
}
