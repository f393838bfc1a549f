//! The versioned schema of the history database. Each entry is one released schema version;
//! never edit a released entry, append a new one.

use rusqlite_migration::{M, Migrations};

/// Version 1: datasets, training runs with their epochs, the model registry.
const V1: &str = r#"
CREATE TABLE datasets (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    dialect     TEXT NOT NULL,
    report_json TEXT NOT NULL,
    added_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (path, sha256)
);
CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL,
    config_json        TEXT NOT NULL,
    split              TEXT NOT NULL,
    seed               INTEGER NOT NULL,
    backend            TEXT NOT NULL,
    status             TEXT NOT NULL
        CHECK (status IN ('running', 'finished', 'cancelled', 'failed', 'interrupted')),
    started_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at        TEXT,
    duration_s         REAL,
    final_metrics_json TEXT,
    error              TEXT,
    pid                INTEGER
);
CREATE TABLE run_datasets (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    PRIMARY KEY (run_id, dataset_id)
);
CREATE TABLE run_epochs (
    run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch        INTEGER NOT NULL,
    train_loss   REAL NOT NULL,
    metrics_json TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    bundle_path  TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    run_id       INTEGER REFERENCES runs(id),
    metrics_json TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    active       INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1))
);
CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1;
"#;

/// Version 2: scoring batches; per-flow results live in a content-addressed Parquet file.
const V2: &str = r#"
CREATE TABLE batches (
    id                 INTEGER PRIMARY KEY,
    input              TEXT NOT NULL,
    model_name         TEXT NOT NULL,
    model_id           INTEGER REFERENCES models(id),
    status             TEXT NOT NULL
        CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    started_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at        TEXT,
    flows              INTEGER,
    flagged            INTEGER,
    family_counts_json TEXT,
    results_file       TEXT,
    results_sha256     TEXT,
    flows_per_s        REAL,
    error              TEXT,
    pid                INTEGER
);
"#;

/// Version 3: saved what-if investigations.
const V3: &str = r#"
CREATE TABLE investigations (
    id                   INTEGER PRIMARY KEY,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    model_name           TEXT NOT NULL,
    source               TEXT,
    flow_json            TEXT NOT NULL,
    features_before_json TEXT NOT NULL,
    features_after_json  TEXT NOT NULL,
    verdict_before_json  TEXT NOT NULL,
    verdict_after_json   TEXT NOT NULL,
    note                 TEXT NOT NULL DEFAULT '',
    tags_json            TEXT NOT NULL DEFAULT '[]'
);
"#;

/// Version 4: model comparisons. The comparison itself is a run (kind `compare`, with its
/// datasets and lifecycle); each model's line is written as soon as that model is measured.
const V4: &str = r#"
CREATE TABLE comparison_results (
    run_id              INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position            INTEGER NOT NULL,
    model               TEXT NOT NULL,
    unsupervised        INTEGER NOT NULL CHECK (unsupervised IN (0, 1)),
    f1                  REAL NOT NULL,
    precision           REAL NOT NULL,
    recall              REAL NOT NULL,
    false_positive_rate REAL NOT NULL,
    roc_auc             REAL,
    train_seconds       REAL NOT NULL,
    flows_per_second    REAL NOT NULL,
    row_json            TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
"#;

/// Version 5: calibrations, an alert threshold per model set on the analyst's known-good
/// traffic. One active per model; older ones stay as history.
const V5: &str = r#"
CREATE TABLE calibrations (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    threshold       REAL NOT NULL CHECK (threshold > 0 AND threshold <= 1),
    target_fpr      REAL NOT NULL,
    baseline        TEXT NOT NULL,
    baseline_sha256 TEXT NOT NULL,
    flows           INTEGER NOT NULL,
    fpr_before      REAL NOT NULL,
    fpr_after       REAL NOT NULL,
    active          INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX one_active_calibration ON calibrations(model_id) WHERE active = 1;
"#;

/// Version 6: each scoring batch keeps the drift of its flows from the model's training data.
const V6: &str = "ALTER TABLE batches ADD COLUMN drift_json TEXT;";

/// Version 7: each scoring batch keeps the alert threshold its flows were flagged at (the
/// model's own or the analyst's calibration), which can change while the model stays the same.
const V7: &str = "ALTER TABLE batches ADD COLUMN threshold REAL;";

/// All schema versions, oldest first.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(V1), M::up(V2), M::up(V3), M::up(V4), M::up(V5), M::up(V6), M::up(V7)])
}

/// The newest schema version this build knows.
pub const LATEST_VERSION: usize = 7;
