//! Past one machine (issue 15): scripts/spark_score.py, a real Spark job (pyspark in local mode,
//! two executor threads), scores a folder of real flow files through NetVigil's streaming
//! scorer, one process per partition, and writes Parquet partitioned by day and family. Its
//! rows must be `netvigil predict`'s on the same files, row for row, field for field (the
//! stream has no `Finding` column: findings need a whole file).
//!
//! Needs Java and pyspark: `.ci/run` installs them (pyspark into ~/.cache/netvigil-spark/venv,
//! or the Python named by NETVIGIL_SPARK_PYTHON); elsewhere the test says why it skipped.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::*;

use super::common::shared;

const NUMERIC_PREFIXES: [&str; 2] = ["P(", "Gate "];

fn spark_python() -> Option<PathBuf> {
    let python = std::env::var_os("NETVIGIL_SPARK_PYTHON")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/netvigil-spark/venv/bin/python")))?;
    let java = Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success());
    (python.is_file() && java).then_some(python)
}

/// One verdict row, keyed by (Source File, Source Line), numbers as f64 bits for exactness.
type Rows = HashMap<(String, String), Vec<String>>;

fn row_values(df: &DataFrame, columns: &[String], i: usize) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            let col = df.column(c).unwrap_or_else(|_| panic!("column {c} missing"));
            if NUMERIC_PREFIXES.iter().any(|p| c.starts_with(p)) {
                let v = match col.dtype() {
                    DataType::Float64 => col.f64().unwrap().get(i),
                    _ => col.str().unwrap().get(i).map(|s| s.parse::<f64>().unwrap_or_else(|_| panic!("{c}: {s}"))),
                };
                format!("{:?}", v.map(f64::to_bits))
            } else {
                col.str().unwrap().get(i).unwrap_or("").to_string()
            }
        })
        .collect()
}

fn keyed(df: &DataFrame, columns: &[String]) -> Rows {
    let (file, line) =
        (df.column("Source File").unwrap().str().unwrap(), df.column("Source Line").unwrap().str().unwrap());
    (0..df.height())
        .map(|i| ((file.get(i).unwrap().to_string(), line.get(i).unwrap().to_string()), row_values(df, columns, i)))
        .collect()
}

fn read_csv_as_text(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every Parquet file of the job's output with its `day=`/`family=` folders as columns.
fn job_output(dir: &Path) -> Vec<(String, String, DataFrame)> {
    let mut out = Vec::new();
    for day_dir in std::fs::read_dir(dir).unwrap().flatten().filter(|e| e.path().is_dir()) {
        let day = day_dir.file_name().to_string_lossy().trim_start_matches("day=").to_string();
        for fam_dir in std::fs::read_dir(day_dir.path()).unwrap().flatten() {
            let family = fam_dir.file_name().to_string_lossy().trim_start_matches("predicted_family=").to_string();
            for part in std::fs::read_dir(fam_dir.path()).unwrap().flatten() {
                let name = part.file_name().to_string_lossy().into_owned();
                if name.ends_with(".parquet") && !name.starts_with('.') {
                    let df = ParquetReader::new(File::open(part.path()).unwrap()).finish().unwrap();
                    out.push((day.clone(), family.clone(), df));
                }
            }
        }
    }
    out
}

fn predict(csv: &Path, out: &Path, data_dir: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["predict", "-q", "--model"])
        .arg(crate::common::default_model())
        .arg(csv)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "predict {}", csv.display());
}

#[test]
fn spark_job_scores_every_partition_as_predict_does() {
    let Some(python) = spark_python() else {
        eprintln!("spark test skipped: no Java or no pyspark (run .ci/run, or set NETVIGIL_SPARK_PYTHON)");
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("flows");
    std::fs::create_dir_all(&input).unwrap();
    // Three sources: the corrected sample, the original release (another dialect), another network.
    let csvs = [
        "cicids2017-improved/Botnet_736.csv",
        "cicids2017-original/TrafficLabelling_PortScan_1000.csv",
        "unb-live/2017-10-17_online.csv",
    ];
    for rel in csvs {
        std::fs::copy(shared(rel), input.join(Path::new(rel).file_name().unwrap())).unwrap();
    }
    // And a Parquet file of flow records (the original release's header-only dialect, no timestamps).
    let parquet_source = shared("cicids2017-original/MachineLearningCVE_grouped_labels_sample_A.csv");
    let mut as_text = read_csv_as_text(&parquet_source);
    ParquetWriter::new(File::create(input.join("grouped.parquet")).unwrap()).finish(&mut as_text).unwrap();

    let output = scratch.path().join("verdicts");
    let job = Command::new(&python)
        .arg(crate::common::repo("scripts/spark_score.py"))
        .args(["--master", "local[2]", "--split-mb", "0.25", "--netvigil", env!("CARGO_BIN_EXE_netvigil"), "--model"])
        .arg(crate::common::default_model())
        .arg(&input)
        .arg(&output)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .unwrap();
    assert!(job.status.success(), "spark job failed:\n{}", String::from_utf8_lossy(&job.stderr));

    // The reference: predict on each file as the job named it (the Parquet's source CSV for it).
    let mut expected = Rows::new();
    let mut columns: Vec<String> = Vec::new();
    for (i, name) in csvs
        .iter()
        .map(|r| Path::new(r).file_name().unwrap())
        .chain([std::ffi::OsStr::new("grouped.parquet")])
        .enumerate()
    {
        let job_path = input.join(name);
        let source = if name == "grouped.parquet" { parquet_source.clone() } else { job_path.clone() };
        let out = scratch.path().join(format!("predict-{i}.csv"));
        predict(&source, &out, &scratch.path().join("data"));
        let mut df = read_csv_as_text(&out);
        df.drop_in_place("Finding").expect("predict writes findings");
        df.with_column(Column::new("Source File".into(), vec![job_path.to_string_lossy().into_owned(); df.height()]))
            .unwrap();
        columns = df.get_column_names().iter().map(|c| c.to_string()).collect();
        let rows = keyed(&df, &columns);
        assert_eq!(rows.len(), df.height(), "predict's (file, line) keys are unique");
        expected.extend(rows);
    }

    let mut seen = std::collections::HashSet::new();
    let mut files = std::collections::BTreeSet::new();
    for (day, family, df) in job_output(&output) {
        files.insert(df.column("Source File").unwrap().str().unwrap().get(0).unwrap().to_string());
        let fam = df.column("Predicted Family").unwrap().str().unwrap();
        let stamp = df.column("Timestamp").unwrap().str().unwrap();
        for (i, (key, values)) in keyed(&df, &columns).into_iter().enumerate() {
            assert_eq!(fam.get(i), Some(family.as_str()), "partitioned by the predicted family");
            let want_day = stamp.get(i).filter(|s| s.len() >= 10).map_or("unknown", |s| &s[..10]);
            assert_eq!(day, want_day, "partitioned by the flow's day");
            let want = expected.get(&key).unwrap_or_else(|| panic!("job row {key:?} not in predict's output"));
            assert_eq!(&values, want, "row {key:?} differs from predict's");
            assert!(seen.insert(key.clone()), "row {key:?} scored twice");
        }
    }
    assert_eq!(seen.len(), expected.len(), "every flow scored");
    assert_eq!(files.len(), 4, "rows from every input file: {files:?}");
}
