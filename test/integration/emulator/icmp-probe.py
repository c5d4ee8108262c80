#!/usr/bin/env python3
"""ICMP echo RTTs measured with kernel receive timestamps (SO_TIMESTAMPNS), so the measuring
process's own scheduling delays do not count; the peer's kernel answers (no userspace echo).

usage: icmp-probe.py DST COUNT INTERVAL_MS   ->  prints {"rtt": [ms | null, ...]}
"""
import json
import os
import select
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main() -> None:
    dst, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    ident = os.getpid() & 0xFFFF
    sent = [0.0] * count
    rtt = [None] * count

    def receive(until: float) -> None:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                return
            data, anc, _, _ = sock.recvmsg(2048, 256)
            ihl = (data[0] & 0x0F) * 4
            typ, _, _, rid, seq = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if typ != 0 or rid != ident or seq >= count or rtt[seq] is not None:
                continue
            stamp = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    stamp = sec + nsec / 1e9
            if stamp is None:
                stamp = time.time()
            rtt[seq] = (stamp - sent[seq]) * 1000.0

    t0 = time.monotonic()
    payload = b"mplab-emulator-probe".ljust(56, b".")
    for k in range(count):
        receive(t0 + k * interval)
        header = struct.pack("!BBHHH", 8, 0, 0, ident, k)
        packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, k) + payload
        sent[k] = time.time()
        try:
            sock.sendto(packet, (dst, 0))
        except OSError:
            pass  # e.g. no carrier: this probe is lost
    receive(time.monotonic() + 1.0)
    sys.stdout.write(json.dumps({"rtt": rtt}) + "\n")


main()
