# Samples interfaces' receive byte counters every INTERVAL_MS (CLOCK_MONOTONIC seconds) until its
# stdin closes, then prints one JSON object: {"ifaces": [...], "samples": [[t, b0, b1, ...], ...]}.
# Run inside a namespace with `ip netns exec NS python3 rx_sampler.py INTERVAL_MS IF...` (ip netns
# exec mounts that namespace's /sys).
import json, select, sys, time

interval = int(sys.argv[1]) / 1000.0
ifaces = sys.argv[2:]
paths = ['/sys/class/net/%s/statistics/rx_bytes' % i for i in ifaces]

def read(p):
    try:
        with open(p) as f:
            return int(f.read())
    except OSError:
        return -1

samples = []
print('ready', flush=True)
nxt = time.monotonic()
while True:
    samples.append([time.monotonic()] + [read(p) for p in paths])
    nxt += interval
    r, _, _ = select.select([sys.stdin], [], [], max(0.0, nxt - time.monotonic()))
    if r and not sys.stdin.buffer.read1(65536):
        break
print(json.dumps({'ifaces': ifaces, 'samples': samples}), flush=True)
