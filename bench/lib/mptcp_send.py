# Kernel MPTCP sender (IPPROTO_MPTCP = 262): connects to HOST:PORT and sends for SECONDS, then
# closes its side and waits for the receiver's close. Prints one JSON object.
import json, socket, sys, time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((host, port))
buf = b'\x5a' * (1 << 16)
end = time.monotonic() + seconds
n = 0
error = None
try:
    while time.monotonic() < end:
        s.sendall(buf)
        n += len(buf)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
except OSError as e:
    error = str(e)
s.close()
print(json.dumps({'bytes': n, 'error': error}), flush=True)
