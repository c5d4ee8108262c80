/**
 * Prints the figures docs/scheduling.md quotes, from the same scenarios as livecd.test.ts:
 *
 *   npx tsx test/unit/mptcp/livecd.figures.ts
 *
 * Deterministic (fixed seeds): the same output on every machine.
 */
import { BOTH_MBPS, BOUNDED_SECONDS, type LivecdOptions, runLivecd, slowestBounded } from './livecd';

const BOUND = 0.75 * BOTH_MBPS;
const f2 = (x: number) => x.toFixed(2);
const phone = (max: number, off: Record<string, number> = {}, seed = 1): LivecdOptions => ({
  g3Loss: 0.02,
  seed,
  knobs: { 'net.ipv4.tcp_rmem': `4096 65536 ${max}`, ...off },
});
const mean = (xs: number[], a: number, b: number) => xs.slice(a, b).reduce((s, x) => s + x, 0) / (b - a);

const rows: [string, string, LivecdOptions, LivecdOptions][] = [
  ['demo as shipped', 'mptcp_sched_slow_queue = 0', {}, { knobs: { 'net.mptcp.mptcp_sched_slow_queue': 0 } }],
  [
    '512 kB window, 2 % 3G loss',
    'mptcp_sched_blest = 0',
    phone(524_288),
    phone(524_288, { 'net.mptcp.mptcp_sched_blest': 0 }),
  ],
  [
    '768 kB window, 2 % 3G loss (seed 4), hole repair off',
    'mptcp_opportunistic_retrans = 0',
    phone(786_432, { 'net.mptcp.mptcp_hole_reinject': 0 }, 4),
    phone(786_432, { 'net.mptcp.mptcp_hole_reinject': 0, 'net.mptcp.mptcp_opportunistic_retrans': 0 }, 4),
  ],
  [
    "demo's 6 MB window, 2 % 3G loss (seed 3)",
    'mptcp_hole_reinject = 0',
    { g3Loss: 0.02, seed: 3 },
    { g3Loss: 0.02, seed: 3, knobs: { 'net.mptcp.mptcp_hole_reinject': 0 } },
  ],
];
console.log(
  `Bound: ${BOUND} Mbit/s (75 % of ${BOTH_MBPS}) in every second of ${BOUNDED_SECONDS.join(', ')}.\n`,
);
console.log(
  '| scenario | slowest bounded second, all rules on | switched off | slowest bounded second | off / on |',
);
console.log('| --- | --- | --- | --- | --- |');
for (const [name, offName, on, off] of rows) {
  const a = slowestBounded(runLivecd(on));
  const b = slowestBounded(runLivecd(off));
  console.log(
    `| ${name} | ${f2(a.mbps)} (${a.second} s) | ${offName} | ${f2(b.mbps)} (${b.second} s) | ${f2(b.mbps / a.mbps)} |`,
  );
}
const demo = runLivecd();
const noCap = runLivecd({ knobs: { 'net.mptcp.mptcp_sched_slow_queue': 0 } });
console.log('\n| second | all rules on, Mbit/s | slow-path cap off, Mbit/s |');
console.log('| --- | --- | --- |');
for (let s = 0; s < 30; s++) {
  const mark = BOUNDED_SECONDS.includes(s) ? '' : ' (unbounded)';
  console.log(`| ${s}-${s + 1} s${mark} | ${f2(demo.perSecond[s]!)} | ${f2(noCap.perSecond[s]!)} |`);
}
const tcp = { 'net.mptcp.mptcp_enabled': 0 };
const both = runLivecd({ events: false, durationMs: 20_000 });
const wifi = runLivecd({ paths: 'wifi', knobs: tcp, durationMs: 20_000 });
const g3 = runLivecd({ paths: '3g', knobs: tcp, durationMs: 20_000 });
const mw = mean(both.perSecond, 1, 20);
const tw = mean(wifi.perSecond, 1, 20);
const m3 = mean(demo.perSecond, 11, 20);
const t3 = mean(g3.perSecond, 11, 20);
console.log('\n| figure | MPTCP | baseline | ratio |');
console.log('| --- | --- | --- | --- |');
console.log(
  `| both paths up, 1-20 s, vs plain TCP over WiFi alone | ${f2(mw)} | ${f2(tw)} | ${f2(mw / tw)} |`,
);
console.log(
  `| demo while WiFi is down, 11-20 s, vs plain TCP over 3G alone | ${f2(m3)} | ${f2(t3)} | ${f2(m3 / t3)} |`,
);
const m = demo.serverMib;
const c = demo.clientMib;
console.log(
  `\nDemo MIB (server = sender): SlowQueueHeld ${m.SlowQueueHeld}, BlestSkipped ${m.BlestSkipped}, ` +
    `OpportunisticRetrans ${m.OpportunisticRetrans} (${m.OpportunisticRetransBytes} bytes), Penalizations ${m.Penalizations}, ` +
    `HoleReinjections ${m.HoleReinjections}; ` +
    `client MPJoinSynTx ${c.MPJoinSynTx}, AddAddrTx ${c.AddAddrTx}.`,
);
for (const [name, , on] of rows.slice(1)) {
  const r = runLivecd(on).serverMib;
  console.log(
    `${name} MIB (sender): SlowQueueHeld ${r.SlowQueueHeld}, BlestSkipped ${r.BlestSkipped}, ` +
      `OpportunisticRetrans ${r.OpportunisticRetrans} (${r.OpportunisticRetransBytes} bytes), Penalizations ${r.Penalizations}, ` +
      `HoleReinjections ${r.HoleReinjections} (${r.HoleReinjectedBytes} bytes).`,
  );
}
