#!/usr/bin/env python3
"""How many flows a GB of capture holds, from CICFlowMeter CSVs of real traffic.

For each file: flows, packets per flow, and the bytes of capture they come to (payload from
the `Total Length of Fwd/Bwd Packets` columns, plus 70 bytes a packet for the Ethernet, IP
and TCP headers and the pcap record header; the 2017 tool's header-length columns are
negative in places, so they are not used). The figure says what density of flows a "1 GB
capture" of real traffic has, against which captures made for benchmarks are compared.

Usage: scripts/capture_density.py CSV...   (e.g. ../shared/data/unb-live/*.csv)
"""
import csv
import sys

OVERHEAD = 70  # bytes a packet beyond its payload: 14 Ethernet + 20 IP + 20 TCP + 16 pcap record


def column(header, *names):
    stripped = [h.strip().lower() for h in header]
    for name in names:
        if name.lower() in stripped:
            return stripped.index(name.lower())
    raise SystemExit(f"no column {names[0]!r}")


def density(path):
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f)
        header = next(rows)
        fp = column(header, "Total Fwd Packets", "Tot Fwd Pkts")
        bp = column(header, "Total Backward Packets", "Tot Bwd Pkts")
        fl = column(header, "Total Length of Fwd Packets", "TotLen Fwd Pkts")
        bl = column(header, "Total Length of Bwd Packets", "TotLen Bwd Pkts")
        flows = packets = size = short = 0
        for row in rows:
            try:
                p = float(row[fp]) + float(row[bp])
                payload = float(row[fl]) + float(row[bl])
            except (ValueError, IndexError):
                continue
            flows += 1
            packets += p
            size += payload + OVERHEAD * p
            short += p <= 2
    return flows, packets, size, short


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print("| file | flows | packets/flow | flows per GB of capture | packets per GB | flows of ≤ 2 packets |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in sys.argv[1:]:
        flows, packets, size, short = density(path)
        if not flows:
            continue
        print(f"| {path.split('/')[-1]} | {flows:,} | {packets / flows:.1f} | {flows / size * 1e9:,.0f} | "
              f"{packets / size * 1e9:,.0f} | {short / flows:.0%} |")


if __name__ == "__main__":
    main()
