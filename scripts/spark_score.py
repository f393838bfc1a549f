#!/usr/bin/env python3
"""NetVigil past one machine: a Spark job that scores a folder of flow files.

Every partition of the input is piped through NetVigil's streaming scorer
(`netvigil predict - -o -`, one process per partition, the model bundle shipped with the job),
and the verdicts are written as Parquet partitioned by day and predicted family. Burn cannot
export the model to ONNX (tracel-ai/burn#918), so the model travels as NetVigil itself; the
engine only moves rows.

    python3 scripts/spark_score.py --master 'local[2]' --netvigil BIN --model models/default IN OUT
    spark-submit --master spark://host:7077 scripts/spark_score.py --netvigil BIN --model DIR IN OUT

IN is a folder of CICFlowMeter CSV files (`.csv`, `.csv.gz`) or Parquet files of flow records
(any column names NetVigil reads in a CSV header). The binary and the bundle are shipped to
the executors with SparkContext.addFile, so on a cluster they need only exist on the driver.

Each output row carries `Source File` (the input path as given) and `Source Line` (the line of
that file, header = 1; for Parquet, row number + 1) exactly as `netvigil predict` on the same
file writes them, so the two can be compared row for row. The stream has no `Finding` column:
host-level findings need a whole file (run `netvigil predict` or `inspect` per file for them).
"""
import argparse
import csv
import io
import os
import stat
import subprocess
import threading

from pyspark import SparkFiles
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

# Not "family": Spark matches names case-insensitively, and labelled input has a "Family" column.
DAY_COLUMN, FAMILY_COLUMN = "day", "predicted_family"
NUMERIC_PREFIXES = ("P(", "Gate ")


def input_files(folder):
    names = sorted(os.listdir(folder))
    files = [os.path.join(folder, n) for n in names if n.endswith((".csv", ".csv.gz", ".parquet"))]
    if not files:
        raise SystemExit(f"{folder}: no .csv, .csv.gz or .parquet files")
    return files


def csv_line(values):
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if v is None else str(v) for v in values])
    return out.getvalue()


def numbered_lines(spark, path, split_bytes):
    """(line index, text) of one file, header at index 0, in file order."""
    if path.endswith(".parquet"):
        df = spark.read.parquet(path)
        header = csv_line(df.columns)
        rows = df.rdd.map(lambda r: csv_line(list(r)))
        lines = spark.sparkContext.parallelize([header], 1).union(rows)
    else:
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(split_bytes))
        lines = spark.read.text(path).rdd.map(lambda r: r[0])
    return lines.zipWithIndex().map(lambda t: (t[1], t[0]))


def score_partition(path, header, binary_name, model_name):
    """Runs one streaming scorer over the partition's lines; yields verdict rows as lists."""

    def run(rows):
        binary = SparkFiles.get(binary_name)
        os.chmod(binary, os.stat(binary).st_mode | stat.S_IXUSR)
        model = SparkFiles.get(model_name)
        indices = []
        proc = subprocess.Popen(
            [binary, "--data-dir", os.path.join(SparkFiles.getRootDirectory(), "netvigil-data"),
             "predict", "--model", model, "-", "-o", "-", "-q"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def feed():
            try:
                proc.stdin.write((header + "\n").encode())
                for index, line in rows:
                    if index == 0:
                        continue  # the header, sent first above
                    indices.append(index)
                    proc.stdin.write((line + "\n").encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the scorer stopped (bad line): its message is on stderr, raised below

        writer = threading.Thread(target=feed)
        writer.start()
        reader = csv.reader(io.TextIOWrapper(proc.stdout, encoding="utf-8", newline=""))
        columns = next(reader, None)
        if columns is not None:
            file_col, line_col = columns.index("Source File"), columns.index("Source Line")
            for row in reader:
                # The stream numbers its own lines (header = 1); map back to the file's.
                row[line_col] = str(indices[int(row[line_col]) - 2] + 1)
                row[file_col] = path
                yield row
        writer.join()
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise RuntimeError(f"netvigil predict failed on a partition of {path}: {err.strip()}")

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--netvigil", required=True, help="the netvigil binary (shipped to executors)")
    ap.add_argument("--model", required=True, help="model bundle folder (shipped to executors)")
    ap.add_argument("--master", default=None, help="e.g. local[2]; default: spark-submit's")
    ap.add_argument("--split-mb", type=float, default=32.0, help="largest CSV split per partition")
    a = ap.parse_args()

    builder = SparkSession.builder.appName("netvigil-score")
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    sc.addFile(os.path.abspath(a.netvigil))
    sc.addFile(os.path.abspath(a.model), recursive=True)
    binary_name, model_name = os.path.basename(a.netvigil), os.path.basename(os.path.abspath(a.model))

    parts, probe = [], None
    for path in input_files(a.input):
        lines = numbered_lines(spark, path, int(a.split_mb * (1 << 20)))
        first_two = lines.filter(lambda t: t[0] <= 1).sortByKey().collect()
        header = first_two[0][1]
        if probe is None and len(first_two) > 1:
            probe = (header, first_two[1][1])
        parts.append(lines.mapPartitions(score_partition(path, header, binary_name, model_name)))
    if probe is None:
        raise SystemExit(f"{a.input}: no flow rows")
    scored = sc.union(parts)
    columns = scorer_columns(a.netvigil, a.model, *probe)
    schema = StructType([StructField(c, StringType()) for c in columns])
    df = spark.createDataFrame(scored, schema)
    for c in columns:
        if c.startswith(NUMERIC_PREFIXES):
            df = df.withColumn(c, F.col(c).cast("double"))
    day = F.substring(F.col("Timestamp"), 1, 10)
    df = df.withColumn(DAY_COLUMN, F.when(F.length(day) == 10, day).otherwise(F.lit("unknown")))
    df = df.withColumn(FAMILY_COLUMN, F.col("Predicted Family"))
    df.write.mode("overwrite").partitionBy(DAY_COLUMN, FAMILY_COLUMN).parquet(a.output)
    spark.stop()


def scorer_columns(binary, model, header, line):
    """The streaming scorer's output columns, from scoring one flow on the driver."""
    import tempfile

    with tempfile.TemporaryDirectory() as data_dir:
        out = subprocess.run([binary, "--data-dir", data_dir, "predict", "--model", model, "-", "-o", "-", "-q"],
                             input=(header + "\n" + line + "\n").encode(), capture_output=True, check=False)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError("netvigil predict on the first flow failed: " + out.stderr.decode())
    return next(csv.reader(io.StringIO(out.stdout.decode())))


if __name__ == "__main__":
    main()
