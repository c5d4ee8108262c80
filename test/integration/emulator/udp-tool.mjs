// UDP measuring tool for the emulator's integration tests (RTTs: icmp-probe.py), run inside namespaces with
// `ip netns exec NS node udp-tool.mjs MODE ...`. Plain JS so it needs no loader. Prints one JSON line.
//   blast HOST PORT COUNT SIZE PPS       send COUNT datagrams of SIZE bytes at PPS, numbered
//   sink PORT SECONDS                    receive until SECONDS pass or 1 s of silence after traffic;
//                                        print received sequence numbers and arrival times
import dgram from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
// Exit only once the (possibly large) last line has been flushed to the pipe.
const outAndExit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`, () => process.exit(0));

if (mode === 'blast') {
  const [host, p, c, sz, r] = args;
  const port = Number(p);
  const count = Number(c);
  const size = Number(sz);
  const pps = Number(r);
  const s = dgram.createSocket('udp4');
  s.bind(0, async () => {
    const t0 = performance.now();
    let sent = 0;
    let inflight = 0;
    let errors = 0;
    while (sent < count) {
      const due = Math.min(count, Math.floor(((performance.now() - t0) * pps) / 1000) + 1);
      while (sent < due) {
        const b = Buffer.alloc(size);
        b.writeUInt32LE(sent, 0);
        inflight++;
        s.send(b, port, host, (err) => {
          inflight--;
          if (err) errors++;
        });
        sent++;
      }
      await new Promise((res) => setTimeout(res, 1));
    }
    while (inflight > 0) await new Promise((res) => setTimeout(res, 5));
    outAndExit({ sent, errors, ms: performance.now() - t0 });
  });
} else if (mode === 'sink') {
  const [port, seconds] = args.map(Number);
  const seqs = [];
  const at = [];
  let bytes = 0;
  let last = 0;
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  s.on('message', (m) => {
    last = performance.now();
    seqs.push(m.readUInt32LE(0));
    at.push(Math.round(last * 1000) / 1000);
    bytes += m.length;
  });
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    s.close();
    outAndExit({ count: seqs.length, bytes, seqs, at });
  };
  s.bind(port, () => out({ ready: true }));
  setTimeout(finish, seconds * 1000);
  setInterval(() => {
    if (last > 0 && performance.now() - last > 1000) finish();
  }, 100);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
