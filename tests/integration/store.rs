//! The history database: migrations, the one-active-model rule, recovery of interrupted
//! jobs, refusal of newer databases, readers beside a writer.

use std::path::Path;

use netvigil::store::{self, FinishedBatch, NewInvestigation, NewRun, RunStatus, Store, StoreError};

fn new_run() -> NewRun {
    NewRun {
        kind: "train".into(),
        config_json: r#"{"epochs": 3, "d_token": 32}"#.into(),
        split: "random".into(),
        seed: 7,
        backend: "cpu".into(),
        datasets: vec![],
    }
}

fn table_names(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn a_new_database_gets_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    let tables = table_names(&s.db_path());
    for t in ["batches", "datasets", "investigations", "models", "run_epochs", "runs"] {
        assert!(tables.contains(&t.to_string()), "{t} in {tables:?}");
    }
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn every_earlier_version_migrates_keeping_its_rows_and_a_backup() {
    for version in 1..store::LATEST_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(store::DB_FILE);
        store::create_at_version(&db, version).unwrap();
        {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute(
                "INSERT INTO runs (kind, config_json, split, seed, backend, status) VALUES ('train', '{}', 'time', 1, 'cpu', 'finished')",
                [],
            )
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let runs = s.runs().unwrap();
        assert_eq!(runs.len(), 1, "version {version}");
        assert_eq!(runs[0].split, "time");
        assert!(dir.path().join(format!("netvigil.db.v{version}.bak")).exists(), "backup of v{version}");
        assert_eq!(table_names(&db).len(), 9);
        // The backup is the database as it was: at its own schema version.
        let backup = rusqlite::Connection::open(dir.path().join(format!("netvigil.db.v{version}.bak"))).unwrap();
        let backup_version: i64 = backup.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(backup_version, version as i64);
    }
}

#[test]
fn a_database_of_a_newer_netvigil_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer NetVigil"));
}

#[test]
fn exactly_one_model_is_active() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    s.register_model("a", &a, "aa", None, "{}").unwrap();
    s.register_model("b", &b, "bb", None, "{}").unwrap();
    assert_eq!(s.active_model().unwrap().unwrap().name, "a", "the first model becomes active");
    s.activate_model("b").unwrap();
    let active: Vec<_> = s.models().unwrap().into_iter().filter(|m| m.active).map(|m| m.name).collect();
    assert_eq!(active, vec!["b".to_string()]);
    assert!(matches!(s.activate_model("nope"), Err(StoreError::UnknownModel(_))));
    // The database itself refuses a second active row.
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    assert!(conn.execute("UPDATE models SET active = 1", []).is_err());
}

#[test]
fn runs_of_dead_processes_become_interrupted_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let dead = s.start_run(&new_run()).unwrap();
    let alive = s.start_run(&new_run()).unwrap();
    let batch = s.start_batch("flows.csv", "default").unwrap();
    s.record_epoch(dead, 1, 0.5, r#"{"f1": 0.9}"#).unwrap();
    drop(s);
    // Pretend the first run and the batch belonged to a process that was killed.
    let conn = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    conn.execute("UPDATE runs SET pid = 2147483646 WHERE id = ?1", [dead]).unwrap();
    conn.execute("UPDATE batches SET pid = 2147483646 WHERE id = ?1", [batch]).unwrap();
    drop(conn);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.run(dead).unwrap().status, RunStatus::Interrupted);
    assert_eq!(s.run(alive).unwrap().status, RunStatus::Running, "this process still runs");
    assert_eq!(s.batches().unwrap()[0].status, "interrupted");
    assert_eq!(s.epochs(dead).unwrap().len(), 1, "history of the interrupted run is kept");
}

#[test]
fn runs_batches_and_investigations_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let ds = s.record_dataset(Path::new("/data/flows.csv"), "abc", 10, "Improved2021", "{}").unwrap();
    let run = s.start_run(&NewRun { datasets: vec![ds], ..new_run() }).unwrap();
    for e in 1..=3 {
        s.record_epoch(run, e, 1.0 / f64::from(e), &format!(r#"{{"f1": 0.{e}}}"#)).unwrap();
    }
    s.finish_run(run, RunStatus::Finished, 12.5, Some(r#"{"f1": 0.99}"#), None).unwrap();
    let r = s.run(run).unwrap();
    assert_eq!(r.status, RunStatus::Finished);
    assert_eq!(r.datasets, vec!["/data/flows.csv".to_string()]);
    assert_eq!(r.final_metrics.unwrap()["f1"], 0.99);
    assert_eq!(s.epochs(run).unwrap().len(), 3);

    let b = s.start_batch("flows.csv", "default").unwrap();
    s.finish_batch(
        b,
        &FinishedBatch {
            flows: 10,
            flagged: 3,
            family_counts: [("benign".to_string(), 7), ("dos".to_string(), 3)].into_iter().collect(),
            results_file: Some(("x.parquet".into(), "x".into())),
            flows_per_s: 1000.0,
            drift_json: Some("{\"flows\": 10, \"distinct\": 9, \"features\": []}".into()),
            threshold: 0.75,
        },
    )
    .unwrap();
    assert_eq!(s.batches().unwrap()[0].drift, Some(serde_json::json!({"flows": 10, "distinct": 9, "features": []})));
    assert_eq!(s.batches().unwrap()[0].flagged, Some(3));
    assert_eq!(s.batches().unwrap()[0].threshold, Some(0.75));

    s.save_investigation(&NewInvestigation {
        model_name: "default".into(),
        source: Some("flows.csv".into()),
        flow_json: "{}".into(),
        features_before_json: "[1,2]".into(),
        features_after_json: "[1,3]".into(),
        verdict_before_json: r#"{"p_attack": 0.2}"#.into(),
        verdict_after_json: r#"{"p_attack": 0.9}"#.into(),
        note: "longer IAT flips it".into(),
        tags: vec!["dos".into()],
    })
    .unwrap();
    let inv = &s.investigations().unwrap()[0];
    assert_eq!(inv.verdict_after["p_attack"], 0.9);
    assert_eq!(inv.tags, vec!["dos".to_string()]);
    let export = s.export_json().unwrap();
    assert_eq!(export["runs"].as_array().unwrap().len(), 1);
    assert_eq!(export["investigations"].as_array().unwrap().len(), 1);
}

#[test]
fn readers_see_consistent_data_while_a_writer_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = Store::open(dir.path()).unwrap();
    let run = writer.start_run(&new_run()).unwrap();
    let path = dir.path().to_path_buf();
    let reader = std::thread::spawn(move || {
        let reader = Store::open(&path).unwrap();
        let mut last = 0;
        for _ in 0..200 {
            let epochs = reader.epochs(run).unwrap();
            assert!(epochs.len() >= last, "epochs never disappear");
            // Epochs are written in order, one transaction each: no gaps are ever visible.
            assert!(epochs.iter().enumerate().all(|(i, e)| e.epoch == i as i64 + 1));
            last = epochs.len();
        }
        last
    });
    for e in 1..=150 {
        writer.record_epoch(run, e, 0.1, "{}").unwrap();
    }
    reader.join().unwrap();
    assert_eq!(writer.epochs(run).unwrap().len(), 150);
}

#[test]
fn processes_opening_a_new_database_at_once_all_get_it_migrated() {
    // Spark runs one `netvigil predict` per partition, all opening the same fresh history
    // at the same moment: each must wait for the first one's migration, not repeat it.
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let openers: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (dir.path().to_path_buf(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open(&path).map(|s| s.integrity_check().unwrap())
                })
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap().unwrap(), "ok");
        }
        assert_eq!(table_names(&dir.path().join(store::DB_FILE)).len(), 9);
    }
}
