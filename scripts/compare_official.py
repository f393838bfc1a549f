#!/usr/bin/env python3
"""Compare NetVigil's flows with the official CICFlowMeter's output for the same capture.

Flows are matched on the directed 5-tuple and the start time (the official CSV prints the
start in local time to the second, 12-hour clock without AM/PM in the 2017 format, so the
time-zone offset is found as the one that matches most flows). For every matched flow and
each of the 72 features, values agree when they are equal within a relative 1e-6.

Usage:
  compare_official.py OURS.csv OFFICIAL.csv [--markdown] [--show-disagreements N]

OURS.csv is `netvigil extract` output (Timestamp 'YYYY-MM-DD HH:MM:SS.ffffff', UTC).
Prints a Markdown table of per-feature agreement (and examples of disagreements).
"""

import argparse
import csv
import datetime as dt
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "src", "features", "schema.rs")


def schema_spellings():
    """(canonical, [spellings]) for the 72 features, from src/features/schema.rs."""
    text = open(SCHEMA, encoding="utf-8").read()
    rows = re.findall(r'name: "([^"]*)", v3: "([^"]*)", v4: "([^"]*)", improved: "([^"]*)"', text)
    if len(rows) != 72:
        sys.exit(f"expected 72 schema rows, found {len(rows)}")
    return [(r[0], list(r)) for r in rows]


def norm(name):
    return " ".join(name.replace("\ufeff", "").split()).lower()


def num(s):
    s = s.strip()
    if s in ("", "NaN", "nan"):
        return math.nan
    if s in ("Infinity", "inf"):
        return math.inf
    return float(s)


def parse_official_time(s):
    s = s.strip()
    for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %H:%M"):
        try:
            return dt.datetime.strptime(s, fmt)
        except ValueError:
            pass
    return None


def parse_ours_time(s):
    s = s.strip()
    try:
        return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S")


def read(path):
    if path.endswith(".json"):
        import json

        records = json.load(open(path, encoding="utf-8"))
        names = list(records[0].keys())
        return [norm(h) for h in names], [[str(r[k]) for k in names] for r in records]
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = [norm(h) for h in rows[0]]
    return header, [r for r in rows[1:] if len(r) == len(rows[0])]


def col(header, *names):
    for n in names:
        if norm(n) in header:
            return header.index(norm(n))
    return None


def tuple_cols(header):
    return [
        col(header, "Source IP", "Src IP"),
        col(header, "Source Port", "Src Port"),
        col(header, "Destination IP", "Dst IP"),
        col(header, "Destination Port", "Dst Port"),
        col(header, "Protocol"),
    ]


def same_second_12h(ours, official, offset_h):
    local = ours + dt.timedelta(hours=offset_h)
    if local.date() != official.date() or local.minute != official.minute or local.second != official.second:
        return False
    return local.hour % 12 == official.hour % 12


def agree(a, b):
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b)) or abs(a - b) < 1e-9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("official")
    ap.add_argument("--show-disagreements", type=int, default=3)
    ap.add_argument("--title", default="")
    args = ap.parse_args()

    spellings = schema_spellings()
    oh, orows = read(args.ours)
    rh, rrows = read(args.official)
    ot, rt = tuple_cols(oh), tuple_cols(rh)
    ots, rts = col(oh, "Timestamp"), col(rh, "Timestamp")
    ous = col(oh, "TimestampUs")
    if ous is not None:
        epoch = dt.datetime(1970, 1, 1)
        ours = [(tuple(r[i].strip() for i in ot), epoch + dt.timedelta(microseconds=int(r[ous])), r) for r in orows]
    else:
        ours = [(tuple(r[i].strip() for i in ot), parse_ours_time(r[ots]), r) for r in orows]
    ref = [(tuple(r[i].strip() for i in rt), parse_official_time(r[rts]), r) for r in rrows]

    def match(offset_h):
        used, pairs = set(), []
        for k, t, r in ref:
            for j, (k2, t2, r2) in enumerate(ours):
                if j not in used and k2 == k and t is not None and same_second_12h(t2, t, offset_h):
                    used.add(j)
                    pairs.append((r, r2))
                    break
        return pairs

    best = max(range(-12, 15), key=lambda h: len(match(h)))
    pairs = match(best)
    print(f"{args.title}official flows: {len(ref)}; ours: {len(ours)}; matched by 5-tuple and start "
          f"second: {len(pairs)} (time-zone offset {best:+d} h)\n")
    print("| Feature | agree | of | share |")
    print("|---|---:|---:|---:|")
    examples = {}
    total_agree = 0
    for canonical, names in spellings:
        ci, ri = col(oh, *names), col(rh, *names)
        if ci is None or ri is None:
            print(f"| {canonical} | – | – | column missing |")
            continue
        ok = 0
        for r, o in pairs:
            a, b = num(r[ri]), num(o[ci])
            if agree(a, b):
                ok += 1
            else:
                examples.setdefault(canonical, []).append((r[0], b, a))
        total_agree += ok
        share = ok / len(pairs) if pairs else 0.0
        print(f"| {canonical} | {ok} | {len(pairs)} | {share:.1%} |")
    n = len(pairs) * len(spellings)
    print(f"\nAll features: {total_agree} of {n} values agree ({total_agree / max(n, 1):.2%}).")
    if args.show_disagreements:
        print("\nDisagreements (flow id: ours vs official):")
        for name, ex in examples.items():
            shown = "; ".join(f"{fid}: {o:g} vs {r:g}" for fid, o, r in ex[: args.show_disagreements])
            print(f"- {name} ({len(ex)}): {shown}")


if __name__ == "__main__":
    main()
