#!/usr/bin/env python3
"""Which CICFlowMeter quirks survive in the corrected CICIDS2017 (Engelen et al. 2021)?

The training data was produced by the corrected tool; `--compat corrected` must compute the
features the way that tool did, quirks included. This checks each rule NetVigil relies on,
on every row of ../shared/data/cicids2017-improved, and prints the share of rows obeying it.
"""

import glob
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data", "cicids2017-improved")


def main():
    df = pd.concat([pd.read_csv(f) for f in sorted(glob.glob(os.path.join(DATA, "*.csv")))])
    f, b = df["Total Fwd Packet"], df["Total Bwd packets"]
    n = f + b
    fb, bb = df["Total Length of Fwd Packet"], df["Total Length of Bwd Packet"]
    one_fwd_data = (f == 1) & (fb > 0)
    tcp_no_bwd = (df["Protocol"] == 6) & (b == 0)
    checks = [
        ("no 1-packet flows are output", (n >= 2).mean()),
        ("Subflow Fwd Packets = fwd packets // all packets", (df["Subflow Fwd Packets"] == f // n).mean()),
        ("Subflow Fwd Bytes = fwd bytes // all packets", (df["Subflow Fwd Bytes"] == fb // n).mean()),
        ("Subflow Bwd Packets = bwd packets // all packets", (df["Subflow Bwd Packets"] == b // n).mean()),
        ("Subflow Bwd Bytes = bwd bytes // all packets", (df["Subflow Bwd Bytes"] == bb // n).mean()),
        ("Down/Up Ratio = bwd / fwd (real division)", np.isclose(df["Down/Up Ratio"], b / f).mean()),
        ("Packet Length Mean = bytes / packets (first packet once)", np.isclose(df["Packet Length Mean"], (fb + bb) / n).mean()),
        ("PSH Flag Count = Fwd PSH Flags + Bwd PSH Flags", ((df["Fwd PSH Flags"] + df["Bwd PSH Flags"]) == df["PSH Flag Count"]).mean()),
        ("URG Flag Count = Fwd URG Flags + Bwd URG Flags", ((df["Fwd URG Flags"] + df["Bwd URG Flags"]) == df["URG Flag Count"]).mean()),
        ("bulk averages are integers", (df[["Fwd Bytes/Bulk Avg", "Fwd Bulk Rate Avg", "Bwd Bytes/Bulk Avg", "Bwd Bulk Rate Avg"]] % 1 == 0).all(axis=1).mean()),
        ("TCP without backward packets: Bwd Init Win Bytes = 0", (df.loc[tcp_no_bwd, "Bwd Init Win Bytes"] == 0).mean()),
        ("one forward packet with payload: Fwd Act Data Pkts = 0 (first packet not counted)", (df.loc[one_fwd_data, "Fwd Act Data Pkts"] == 0).mean()),
    ]
    print(f"{len(df)} rows of the corrected CICIDS2017\n")
    print("| rule | rows obeying |\n|---|---:|")
    for rule, share in checks:
        print(f"| {rule} | {share:.2%} |")


if __name__ == "__main__":
    main()
