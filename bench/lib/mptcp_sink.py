# Kernel MPTCP receiver (IPPROTO_MPTCP = 262): accepts one connection on HOST:PORT, reads until EOF
# and records (CLOCK_MONOTONIC seconds, cumulative bytes) at least every INTERVAL_MS (a receive
# timeout wakes it during a stall). Prints "ready", then one JSON object at the end.
import json, socket, sys, time

host, port, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000.0
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
c.settimeout(interval)
buf = bytearray(1 << 20)
n = 0
samples = [[time.monotonic(), 0]]
last = samples[0][0]
error = None
while True:
    try:
        k = c.recv_into(buf)
        if k == 0:
            break
        n += k
    except socket.timeout:
        pass
    except OSError as e:
        error = str(e)
        break
    now = time.monotonic()
    if now - last >= interval:
        samples.append([now, n])
        last = now
samples.append([time.monotonic(), n])
c.close()
print(json.dumps({'bytes': n, 'samples': samples, 'error': error}), flush=True)
