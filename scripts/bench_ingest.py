#!/usr/bin/env python3
"""Ingest speed, side by side: netvigil against DuckDB's read_csv, pandas.read_csv and
polars.read_csv on one 1,000,000-row CICIDS2017-format CSV made by repeating the real rows of
../shared/data/cicids2017-improved, all in one run on the same file in the page cache.

Usage: scripts/bench_ingest.py [--rows 1000000] [--dir /tmp/netvigil-bench] [--runs 3] [--parquet]
--parquet: the same rows as Parquet, as `netvigil convert` writes them (metadata, 72 features,
label), against DuckDB's read_parquet, pandas.read_parquet (pyarrow) and polars.read_parquet.
Needs a release build (scripts/test or scripts/run builds it) and, for the references, the
Python packages (pip install duckdb pandas polars); a missing one is reported and skipped.
"""
import argparse, glob, os, statistics, subprocess, sys, time, json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "cicids2017-improved")


def make_csv(path, rows):
    """Header once, then the real rows of every label file, repeated until `rows`."""
    files = sorted(glob.glob(os.path.join(SHARED, "*.csv")))
    header, body = None, []
    for f in files:
        with open(f, newline="") as fh:
            lines = fh.read().splitlines()
        header = header or lines[0]
        body.extend(lines[1:])
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as out:
        out.write(header + "\n")
        for i in range(rows):
            out.write(body[i % len(body)] + "\n")
    os.replace(tmp, path)


def time_pandas(path, runs):
    import pandas as pd
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
        times.append(time.perf_counter() - t)
        n = len(df)
        del df
    return n, times, pd.__version__


def time_duckdb(path, runs):
    """DuckDB materialises the whole table (as netvigil and pandas do), all cores."""
    import duckdb
    times = []
    for _ in range(runs):
        con = duckdb.connect()
        t = time.perf_counter()
        reader = "read_parquet" if path.endswith(".parquet") else "read_csv"
        con.execute(f"CREATE TABLE flows AS SELECT * FROM {reader}('{path}')")
        times.append(time.perf_counter() - t)
        n = con.execute("SELECT count(*) FROM flows").fetchone()[0]
        con.close()
    return n, times, duckdb.__version__


def time_polars(path, runs):
    import polars as pl
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        df = pl.read_parquet(path) if path.endswith(".parquet") else pl.read_csv(path, infer_schema_length=10000)
        times.append(time.perf_counter() - t)
        n = df.height
        del df
    return n, times, pl.__version__


def netvigil_exe():
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/netvigil-target")), "release", "netvigil")


def time_netvigil(path, runs):
    exe = netvigil_exe()
    out = subprocess.run([exe, "bench-ingest", path, "--runs", str(runs), "--json"], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout)
    return r["rows"], r["runs_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/netvigil-bench")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parquet", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    path = os.path.join(a.dir, f"cicids2017-{a.rows}.csv")
    if not os.path.exists(path):
        make_csv(path, a.rows)
    if a.parquet:
        csv_path, path = path, path[:-4] + ".parquet"
        if not os.path.exists(path):
            subprocess.run([netvigil_exe(), "convert", csv_path, "-o", path, "--data-dir", os.path.join(a.dir, "history")], check=True, capture_output=True)
    size_mb = os.path.getsize(path) / 1e6
    with open(path, "rb") as fh:  # page cache
        while fh.read(1 << 24):
            pass
    nv_rows, nv = time_netvigil(path, a.runs)
    nv_med = statistics.median(nv)
    print(f"file: {path} ({a.rows} rows, {size_mb:.0f} MB), {os.cpu_count()} cores, {a.runs} runs, median")
    print("| reader | rows | median s | best s | MB/s | netvigil / it |")
    print("|---|---|---|---|---|---|")
    print(f"| netvigil (read_flows: parse, validate, metadata) | {nv_rows} | {nv_med:.2f} | {min(nv):.2f} | {size_mb / nv_med:.0f} | 1.00 |")
    for name, timer in (("DuckDB", time_duckdb), ("pandas", time_pandas), ("polars", time_polars)):
        try:
            rows, times, version = timer(path, a.runs)
        except ImportError as e:
            print(f"| {name}: not installed ({e}) | | | | | |")
            continue
        med = statistics.median(times)
        reader = "read_parquet" if a.parquet else "read_csv"
        print(f"| {name} {version} {reader} | {rows} | {med:.2f} | {min(times):.2f} | {size_mb / med:.0f} | {nv_med / med:.2f} |")

if __name__ == "__main__":
    sys.exit(main())
