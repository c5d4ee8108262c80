// Generates the synthetic Mahimahi packet-delivery traces in this directory (deterministic: a fixed
// seed). Run: node topologies/traces/generate.mjs
// Format: one integer millisecond timestamp per line; each line is one 1500-byte delivery
// opportunity; the trace loops with a period equal to its last timestamp.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Turns a rate function (Mbit/s at ms t) into opportunity timestamps over [1, periodMs]. */
function schedule(periodMs, rateAt) {
  const lines = [];
  let credit = 0;
  for (let t = 1; t <= periodMs; t++) {
    credit += rateAt(t) / 12; // 12 Mbit/s = one 1500-byte opportunity per ms
    while (credit >= 1) {
      lines.push(t);
      credit -= 1;
    }
  }
  if (lines[lines.length - 1] !== periodMs) lines.push(periodMs);
  return lines;
}

// Constant 12 Mbit/s: one opportunity every ms, period 1 s.
const constant = schedule(1000, () => 12);

// Cellular-like, period 4 s: the rate wanders between levels (0.5 … 16 Mbit/s) every ~100–400 ms,
// with per-ms noise and two short outages (as in a handover or a fade).
const rnd = mulberry32(20111);
const levels = [0.5, 2, 4, 6, 9, 12, 16];
let level = 3;
let nextChange = 0;
const rate = new Array(4001).fill(0);
for (let t = 1; t <= 4000; t++) {
  if (t >= nextChange) {
    level = Math.max(0, Math.min(levels.length - 1, level + Math.round((rnd() - 0.5) * 4)));
    nextChange = t + 100 + Math.floor(rnd() * 300);
  }
  rate[t] = levels[level] * (0.6 + 0.8 * rnd());
}
for (const [from, to] of [
  [1200, 1450],
  [3100, 3250],
]) {
  for (let t = from; t < to; t++) rate[t] = 0;
}
const cellular = schedule(4000, (t) => rate[t]);

writeFileSync(join(here, 'const-12mbit.trace'), `${constant.join('\n')}\n`);
writeFileSync(join(here, 'cellular-4s.trace'), `${cellular.join('\n')}\n`);
for (const [name, lines, period] of [
  ['const-12mbit.trace', constant, 1000],
  ['cellular-4s.trace', cellular, 4000],
]) {
  process.stdout.write(
    `${name}: ${lines.length} opportunities / ${period} ms = ${((lines.length * 1500 * 8) / period / 1000).toFixed(2)} Mbit/s average\n`,
  );
}
