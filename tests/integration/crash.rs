//! Crash safety of the history: the real binary is killed with SIGKILL during training and
//! during scoring, 20 times each, at spread-out moments. Every time the database must pass
//! `PRAGMA integrity_check`, no run or batch may stay `running`, and every model row must
//! point to a complete bundle.

use std::process::{Command, Stdio};
use std::time::Duration;

use netvigil::model::ModelBundle;
use netvigil::model::inference::cpu_device;
use netvigil::store::{RunStatus, Store};

use crate::common::{repo_data, shared};

const KILLS: usize = 20;

/// Kill delays spread over the phases of a run: start-up, reading, work, saving.
fn delay(i: usize) -> Duration {
    Duration::from_millis(150 + (i as u64 * 2_357) % 3_200)
}

fn check_consistent(dir: &std::path::Path) {
    let store = Store::open(dir).expect("the database opens after a crash");
    assert_eq!(store.integrity_check().unwrap(), "ok");
    for r in store.runs().unwrap() {
        assert_ne!(r.status, RunStatus::Running, "run {} still running after recovery", r.id);
    }
    for b in store.batches().unwrap() {
        assert_ne!(b.status, "running", "batch {} still running after recovery", b.id);
    }
    for m in store.models().unwrap() {
        let bundle = ModelBundle::load(std::path::Path::new(&m.bundle_path), &cpu_device());
        assert!(bundle.is_ok(), "model {} points to a broken bundle: {:?}", m.name, bundle.err());
    }
}

fn kill_after(mut cmd: Command, wait: Duration) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start netvigil");
    std::thread::sleep(wait);
    // Child::kill sends SIGKILL on Unix.
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn sigkill_during_training_and_scoring_leaves_a_consistent_history() {
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_netvigil");
    for i in 0..KILLS {
        let mut train = Command::new(exe);
        train
            .arg("--data-dir")
            .arg(dir.path())
            .args(["train", "--epochs", "40", "--name"])
            .arg(format!("crash-{i}"))
            .arg(repo_data("cicids2017-sample.csv"))
            .arg("-o")
            .arg(dir.path().join(format!("models/crash-{i}")));
        kill_after(train, delay(i));
        check_consistent(dir.path());
    }
    let default_model = crate::common::default_model();
    for i in 0..KILLS {
        let mut predict = Command::new(exe);
        predict
            .arg("--data-dir")
            .arg(dir.path())
            .arg("predict")
            .arg("--model")
            .arg(&default_model)
            .args(["--device", "cpu"])
            .arg(shared("cicids2017-improved"))
            .arg("-o")
            .arg(dir.path().join(format!("scores-{i}.parquet")));
        kill_after(predict, delay(i));
        check_consistent(dir.path());
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(!store.runs().unwrap().is_empty(), "training runs were recorded before being killed");
    assert!(!store.batches().unwrap().is_empty(), "scoring batches were recorded before being killed");
}
