#!/usr/bin/env python3
"""Write a larger benchmark capture made of N time-shifted copies of a real pcap.

Each copy is shifted by the capture's own span plus 300 s (more than the 120 s flow
timeout), so its flows stay separate flows; packet bytes are the original ones.

Usage: replicate_pcap.py IN.pcap OUT.pcap N
"""

import struct
import sys


def main():
    src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(src, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit("only little-endian pcap input is supported")
    records = []
    at = 24
    while at + 16 <= len(data):
        ts, frac, incl, orig = struct.unpack("<IIII", data[at:at + 16])
        if at + 16 + incl > len(data):
            break
        records.append((ts, frac, incl, orig, data[at + 16:at + 16 + incl]))
        at += 16 + incl
    span = records[-1][0] - records[0][0] + 300
    with open(dst, "wb") as out:
        out.write(data[:24])
        for c in range(copies):
            shift = c * span
            for ts, frac, incl, orig, body in records:
                out.write(struct.pack("<IIII", ts + shift, frac, incl, orig))
                out.write(body)
    print(f"{dst}: {copies * len(records)} packets")


if __name__ == "__main__":
    main()
