//! Paths to the real data and helpers to derive bad inputs from real rows.

use std::path::PathBuf;

/// A path in the checkout under test. Read from the environment cargo gives the running test
/// first, and only then from the compile-time value: a test binary that cargo reuses from a
/// target directory built in another checkout (CI's persistent one) still reads this one's files.
pub fn repo(rel: &str) -> PathBuf {
    let root =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    root.join(rel)
}

/// The shipped model bundle.
pub fn default_model() -> PathBuf {
    repo("models/default")
}

/// A file under `../shared/data` (CI clones the repository next to `shared/`).
pub fn shared(rel: &str) -> PathBuf {
    repo("../shared/data").join(rel)
}

/// A file under the repository's own `data/` slice.
pub fn repo_data(rel: &str) -> PathBuf {
    repo("data").join(rel)
}

/// The header line and the first `n` data lines of a real file, without line ends.
pub fn real_lines(rel: &str, n: usize) -> (String, Vec<String>) {
    let text = std::fs::read(shared(rel)).expect("shared data present");
    let text = String::from_utf8_lossy(&text).into_owned();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().expect("header");
    (header, lines.take(n).collect())
}

/// Writes `content` to a new file `name` in `dir` and returns its path.
pub fn write(dir: &tempfile::TempDir, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write test file");
    path
}

/// Checks EVE alert lines against docs/eve-alert.schema.json (scripts/check_eve.py, Python's
/// jsonschema, which `.ci/run` installs); panics with the first invalid line.
pub fn check_eve(path: &std::path::Path) {
    let script = repo("scripts/check_eve.py");
    let out = std::process::Command::new("python3").arg(script).arg(path).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "EVE schema check failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reading options: strict (the default, stop at the first bad row) and lenient (drop and count).
pub fn strict() -> netvigil::ingest::ReadOptions {
    netvigil::ingest::ReadOptions::default()
}

pub fn lenient() -> netvigil::ingest::ReadOptions {
    netvigil::ingest::ReadOptions { lenient: true, ..netvigil::ingest::ReadOptions::default() }
}

/// One feature of one row of a table.
pub fn value(t: &netvigil::ingest::FlowTable, row: usize, f: netvigil::features::FeatureId) -> f32 {
    t.row(row)[f as usize]
}

/// `train::fit` as most tests call it: a random split on the CPU, no events, no cancel, from
/// scratch or from `start`.
pub fn fit_on_cpu(
    table: &netvigil::ingest::FlowTable,
    config: &netvigil::model::MoeConfig,
    training: &netvigil::train::training::TrainingConfig,
    start: Option<&netvigil::model::ModelBundle>,
) -> (netvigil::model::ModelBundle, netvigil::train::TrainingReport) {
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let device = netvigil::model::inference::cpu_device();
    netvigil::train::fit(table, config, training, netvigil::train::SplitKind::Random, &device, None, &cancel, start)
        .expect("training runs")
}
