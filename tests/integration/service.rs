//! The service layer's whole tasks, as the window, `predict` and the server use them:
//! recorded scoring (failed and cancelled batches included), the start-up model, and typed
//! investigations that keep the flow's addresses.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use netvigil::detect::detect;
use netvigil::ingest::{ReadOptions, read_flows};
use netvigil::service::task::quietly;
use netvigil::service::{FlowRef, Investigation, Task, investigations, models, score_recorded};
use netvigil::store::Store;

use crate::common::repo_data;

fn default_model() -> models::LoadedModel {
    let dir = crate::common::default_model();
    models::load("default", &dir, netvigil::model::DeviceChoice::Cpu).unwrap()
}

#[test]
fn scoring_batches_are_recorded_finished_failed_or_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let model = default_model();
    let table = read_flows(&[repo_data("cicids2017-sample.csv")], &ReadOptions::default()).unwrap();
    let findings = detect(&table);

    let batch = quietly(|task| score_recorded(dir.path(), &model, &table, &findings, None, task)).unwrap();
    assert_eq!(batch.verdicts.len(), table.len());

    struct FullDisk;
    impl netvigil::service::ResultsOutput for FullDisk {
        fn part(
            &mut self,
            _: &mut polars::prelude::DataFrame,
            _: &[netvigil::model::Verdict],
            _: std::ops::Range<usize>,
        ) -> anyhow::Result<()> {
            anyhow::bail!("no space left on the device")
        }
    }
    let mut full_disk = FullDisk;
    let failed = quietly(|task| score_recorded(dir.path(), &model, &table, &findings, Some(&mut full_disk), task));
    assert!(failed.is_err());

    let cancel = AtomicBool::new(true);
    let cancelled = score_recorded(dir.path(), &model, &table, &findings, None, &Task::new(&|_| {}, &cancel));
    assert!(cancelled.is_err());

    let batches = Store::open(dir.path()).unwrap().batches().unwrap();
    let seen: Vec<(&str, Option<&str>)> = batches.iter().map(|b| (b.status.as_str(), b.error.as_deref())).collect();
    assert_eq!(
        seen,
        vec![("failed", Some("cancelled")), ("failed", Some("no space left on the device")), ("finished", None)],
        "newest first"
    );
    let finished = &batches[2];
    assert_eq!(finished.flows, Some(table.len() as i64));
    // Flagged at the model's own threshold, and the batch says which.
    assert_eq!(finished.threshold, Some(f64::from(model.threshold)));
    assert!(model.threshold > 0.5, "the shipped model's own threshold: {}", model.threshold);
    assert_eq!(finished.flagged, Some(batch.verdicts.iter().filter(|v| v.p_attack >= model.threshold).count() as i64));
    assert_eq!(batches[0].threshold, None, "a failed batch flagged nothing");
    assert_eq!(finished.id, batch.batch_id);
    assert!(dir.path().join("results").join(finished.results_file.as_ref().unwrap()).is_file());
    let drift = finished.drift.as_ref().expect("drift recorded with the batch");
    assert_eq!(drift["flows"], serde_json::json!(table.len()));
    assert_eq!(drift["features"].as_array().map(Vec::len), batch.drift.as_ref().map(|d| d.features.len()));
}

#[test]
fn the_startup_model_is_the_active_one_else_the_shipped_default() {
    let dir = tempfile::tempdir().unwrap();
    let (name, bundle) = models::startup(dir.path()).unwrap().expect("the shipped model");
    assert_eq!(name, "default");
    assert!(bundle.join("manifest.json").is_file());
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.active_model().unwrap().map(|m| m.name).as_deref(), Some("default"), "registered and active");
    let (again, _) = models::resolve(dir.path(), Some("default")).unwrap();
    assert_eq!(again, "default", "a registry name resolves");
    let unknown = models::resolve(dir.path(), Some("no-such-model")).unwrap_err();
    assert!(unknown.to_string().contains("no-such-model"), "{unknown}");
}

#[test]
fn an_investigation_reopens_with_its_flows_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let model = default_model();
    let table = read_flows(&[repo_data("cicids2017-sample.csv")], &ReadOptions::default()).unwrap();
    let r =
        (0..table.len()).find(|&r| table.meta()[r].src_ip().is_some() && table.meta()[r].dst_port.is_some()).unwrap();
    let mut before = [0f32; netvigil::features::N_FEATURES];
    before.copy_from_slice(table.row(r));
    let mut after = before;
    after[0] *= 10.0;
    let flow = FlowRef::new(&table.meta()[r], Some(r), Some("BENIGN".into()));
    let inv =
        Investigation::new(&model, "sample".into(), flow, before, after, "longer flow".into(), vec!["what-if".into()]);
    let id = investigations::save(dir.path(), &inv).unwrap();

    let back = investigations::list(dir.path()).unwrap().into_iter().find(|i| i.id == Some(id)).unwrap();
    assert_eq!(back.flow, inv.flow);
    assert_eq!(back.flow.meta().src_ip(), table.meta()[r].src_ip());
    assert_eq!(back.flow.meta().dst_port, table.meta()[r].dst_port);
    assert_eq!((back.before, back.after), (before, after));
    assert_eq!(back.verdict_after, inv.verdict_after);
    assert_eq!(back.tags, vec!["what-if".to_string()]);
}

#[test]
fn a_calibration_sets_the_threshold_every_front_end_loads_with_the_model() {
    use netvigil::service::calibration::{calibrate, flagged_share, threshold_for};
    // Ties at the boundary are never split: all stay below the threshold.
    assert_eq!(flagged_share(&[0.9, 0.9, 0.9, 0.1], threshold_for(&[0.9, 0.9, 0.9, 0.1], 0.5).unwrap()), 0.0);
    assert_eq!(threshold_for(&[], 0.01), None);

    let dir = tempfile::tempdir().unwrap();
    let bundle = crate::common::default_model();
    let model = models::load_calibrated(dir.path(), "default", &bundle, netvigil::model::DeviceChoice::Cpu).unwrap();
    let own = netvigil::model::bundle::alert_threshold_in(&bundle);
    assert_eq!((model.threshold, model.calibration.is_none()), (own, true), "uncalibrated: the model's own");
    let baseline = vec![crate::common::shared("unb-live/2017-12-15_online.csv")];
    let c = quietly(|task| calibrate(dir.path(), &model, &baseline, 0.01, &ReadOptions::default(), task)).unwrap();
    assert!(c.fpr_after <= 0.01, "{c:?}");
    assert!(c.flows > 1000 && c.threshold > 0.0 && c.threshold <= 1.0, "{c:?}");

    // Loaded again, anywhere, the model carries the calibration, and verdicts follow it.
    let calibrated = models::resolve_and_load(dir.path(), Some("default"), netvigil::model::DeviceChoice::Cpu).unwrap();
    assert_eq!(calibrated.threshold, c.threshold);
    assert_eq!(calibrated.calibration.as_ref().map(|k| k.id), Some(c.id));
    let table = read_flows(&baseline, &ReadOptions::default()).unwrap();
    let verdicts = calibrated.scorer.score_table(&table);
    assert!(verdicts.iter().all(|v| v.is_attack() == (v.p_attack >= c.threshold)));
    let flagged = verdicts.iter().filter(|v| v.is_attack()).count() as f64 / verdicts.len() as f64;
    assert!((flagged - c.fpr_after).abs() < 1e-9, "{flagged} vs {}", c.fpr_after);

    // Checked on a later day of the same network, as the window's Model menu does.
    let later =
        read_flows(&[crate::common::shared("unb-live/2017-10-17_online.csv")], &ReadOptions::default()).unwrap();
    let check =
        netvigil::service::calibration::check(&c, &netvigil::model::briefly(&calibrated.scorer.score_table(&later)));
    let flagged =
        calibrated.scorer.score_table(&later).iter().filter(|v| v.is_attack()).count() as f64 / later.len() as f64;
    assert_eq!(check.flagged_share, flagged);
    assert_eq!(check.past_target, flagged > 0.01 + 1.0 / later.len() as f64, "{}", check.message);

    Store::open(dir.path()).unwrap().clear_calibration("default").unwrap();
    let plain = models::resolve_and_load(dir.path(), Some("default"), netvigil::model::DeviceChoice::Cpu).unwrap();
    assert_eq!(plain.threshold, own);
    assert_eq!(Store::open(dir.path()).unwrap().calibrations().unwrap().len(), 1, "kept as history");
}

#[test]
fn fine_tuning_starts_from_a_model_keeps_its_preprocessing_and_records_its_parent() {
    use netvigil::service::{TrainRequest, train_recorded};
    let dir = tempfile::tempdir().unwrap();
    let parent = crate::common::default_model();
    let out = dir.path().join("models/tuned");
    let request = TrainRequest {
        inputs: vec![repo_data("cicids2017-sample.csv")],
        read: ReadOptions::default(),
        split: netvigil::train::SplitKind::Random,
        model: netvigil::model::MoeConfig::new(),
        training: netvigil::train::training::TrainingConfig::new().with_epochs(1),
        device: netvigil::model::DeviceChoice::Cpu,
        bundle_dir: out.clone(),
        name: "tuned".into(),
        kind: "finetune".into(),
        start_from: Some(parent.clone()),
    };
    let result = quietly(|task| train_recorded(dir.path(), &request, task)).unwrap();
    let before = result.report.before.as_ref().expect("the starting model measured on the same test rows");
    assert_eq!(before.flows, result.report.test.flows);

    let cpu = netvigil::model::inference::cpu_device();
    let tuned = netvigil::model::ModelBundle::load(&out, &cpu).unwrap();
    let original = netvigil::model::ModelBundle::load(&parent, &cpu).unwrap();
    assert_eq!(tuned.preprocessor, original.preprocessor, "the parent's preprocessing, unchanged");
    assert_ne!(tuned.manifest.weights_sha256, original.manifest.weights_sha256, "new weights");

    let store = Store::open(dir.path()).unwrap();
    let model = store.model("tuned").unwrap().expect("registered");
    assert_eq!(model.metrics["parent"]["bundle"].as_str(), Some(parent.display().to_string().as_str()));
    let run = store.run(result.run_id).unwrap();
    assert_eq!(run.kind, "finetune");
    assert!(run.config["parent"]["sha256"].as_str().is_some_and(|s| s.len() == 64));
}

#[test]
fn cancelling_a_capture_read_keeps_the_flows_of_the_packets_read() {
    use netvigil::service::Progress;
    use netvigil::service::reading::{read, read_keeping};
    use std::sync::atomic::Ordering;
    // 5,000 one-packet SYNs of hping3, then a second file that must not be read.
    let flood = repo_data("captures/dos_hping3_syn_flood.pcap");
    let files = vec![flood.clone(), repo_data("captures/benign_dns.pcap")];
    let whole = netvigil::ingest::capture::read_capture(&flood, &Default::default()).unwrap().0;
    let cancel = AtomicBool::new(false);
    let lines = std::sync::Mutex::new(Vec::new());
    // The analyst presses Cancel as the first packet count shows.
    let report = |p: Progress| {
        if p.stage.contains("packets/s") {
            cancel.store(true, Ordering::Relaxed);
        }
        lines.lock().unwrap().push(p.stage);
    };
    let outcome = read_keeping(&files, &Default::default(), &Task::new(&report, &cancel), None).unwrap();
    let why = outcome.stopped.expect("reading says it stopped");
    assert!(
        why.contains("dos_hping3_syn_flood.pcap stopped after 4096 packets") && why.contains("1 more files not read"),
        "{why}"
    );
    assert_eq!(outcome.table.sources.len(), 1);
    let n = outcome.table.len();
    assert!(n > 0 && n < whole.len(), "{n} of {} flows", whole.len());
    // The flows kept are the first ones of the whole capture, as extracted from its first packets.
    assert_eq!(
        &whole.meta()[..n].iter().map(|m| m.line).collect::<Vec<_>>()[..],
        &outcome.table.meta().iter().map(|m| m.line).collect::<Vec<_>>()[..]
    );
    assert!(outcome.table.sources[0].report.warnings.iter().any(|w| w.starts_with("stopped when asked")));
    assert!(lines.lock().unwrap().iter().any(|l| l.contains("packets/s")), "progress shows the packet rate");

    // `read` (predict, calibrate) fails instead of handing on part of the input.
    let cancel = AtomicBool::new(true);
    let quiet = |_: Progress| {};
    assert!(read(&files, &Default::default(), &Task::new(&quiet, &cancel)).is_err());
}

#[test]
fn a_capture_being_read_shows_its_flows_so_far_and_then_the_whole() {
    use netvigil::service::reading::{ShowFlows, read_keeping};
    use std::time::Duration;
    // hping3's 5,000 SYNs (15,000 packets with the replies): flows end by timeout, after the
    // capture, so only a snapshot of open flows can show anything before the end.
    let flood = repo_data("captures/dos_hping3_syn_flood.pcap");
    let files = vec![repo_data("captures/benign_dns.pcap"), flood.clone()];
    let shown = std::sync::Mutex::new(Vec::new());
    let sink = |t: netvigil::ingest::FlowTable| shown.lock().unwrap().push(t);
    let show = ShowFlows { after: Duration::ZERO, every: Duration::ZERO, sink: &sink };
    let outcome = quietly(|task| read_keeping(&files, &ReadOptions::default(), task, Some(&show))).unwrap();
    assert!(outcome.stopped.is_none());
    let whole = quietly(|task| netvigil::service::reading::read(&files, &ReadOptions::default(), task)).unwrap();
    assert_eq!(outcome.table.features(), whole.features(), "showing changes nothing of the result");
    let shown = shown.into_inner().unwrap();
    assert_eq!(shown.len(), 3, "a tick every 4,096 packets of 15,000");
    assert!(shown.windows(2).all(|w| w[0].len() < w[1].len()), "more flows each time");
    let first = &shown[0];
    let dns = netvigil::ingest::capture::read_capture(&files[0], &Default::default()).unwrap().0.len();
    assert_eq!(first.sources.len(), 2, "the file before, and the capture being read");
    let so_far = first.len() - dns;
    assert!(so_far > 100 && so_far < whole.len() - dns, "{so_far} of the capture's {} flows", whole.len() - dns);
    // The flows shown so far are flows of the whole capture (a flow's line is its first
    // packet's number).
    let lines: std::collections::HashSet<u64> = whole.meta()[dns..].iter().map(|m| m.line).collect();
    assert!(first.meta()[dns..].iter().all(|m| lines.contains(&m.line)));
}

/// What `predict -o` gets of a recorded batch: every row once, in order, a part at a time,
/// each part's frame and verdicts of its own rows; the history keeps the same rows.
#[test]
fn a_recorded_batch_goes_to_its_output_a_part_at_a_time_in_row_order() {
    struct Parts(Vec<(std::ops::Range<usize>, usize, usize, Vec<f32>)>);
    impl netvigil::service::ResultsOutput for Parts {
        fn part(
            &mut self,
            frame: &mut polars::prelude::DataFrame,
            verdicts: &[netvigil::model::Verdict],
            rows: std::ops::Range<usize>,
        ) -> anyhow::Result<()> {
            let first = verdicts.iter().take(3).map(|v| v.p_attack).collect();
            self.0.push((rows, frame.height(), verdicts.len(), first));
            Ok(())
        }
    }
    let sample = read_flows(&[repo_data("cicids2017-sample.csv")], &ReadOptions::default()).unwrap();
    // Real rows repeated past one part (262,144 rows) of the results.
    let mut table = sample.clone();
    while table.len() <= 1 << 18 {
        table.append(sample.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let model = default_model();
    let mut parts = Parts(Vec::new());
    let batch =
        quietly(|task| score_recorded(dir.path(), &model, &table, &detect(&table), Some(&mut parts), task)).unwrap();
    let ranges: Vec<std::ops::Range<usize>> = parts.0.iter().map(|p| p.0.clone()).collect();
    assert_eq!(ranges, [0..1 << 18, 1 << 18..table.len()]);
    for (rows, height, verdicts, first) in &parts.0 {
        assert_eq!((*height, *verdicts), (rows.len(), rows.len()));
        let expected: Vec<f32> = batch.verdicts[rows.start..rows.start + 3].iter().map(|v| v.p_attack).collect();
        assert_eq!(first, &expected, "part {rows:?} holds its own rows' verdicts");
    }
    let store = Store::open(dir.path()).unwrap();
    let recorded = &store.batches().unwrap()[0];
    assert_eq!(recorded.flows, Some(table.len() as i64));
    let results = polars::prelude::ParquetReader::new(
        std::fs::File::open(store.results_dir().join(recorded.results_file.as_ref().unwrap())).unwrap(),
    );
    use polars::prelude::SerReader;
    assert_eq!(results.finish().unwrap().height(), table.len());
}

#[test]
fn a_large_csv_being_read_shows_its_first_rows_and_then_the_whole() {
    use netvigil::service::reading::{ShowFlows, read_keeping};
    use std::io::Write;
    use std::time::Duration;
    // Over 64 MB of real rows of the corrected release, repeated: large enough for a preview.
    let (header, lines) = crate::common::real_lines("cicids2017-improved/BENIGN_5000.csv", 5000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{header}").unwrap();
    let mut rows = 0;
    while out.get_ref().metadata().unwrap().len() < 70 << 20 {
        for line in &lines {
            writeln!(out, "{line}").unwrap();
        }
        rows += lines.len();
        out.flush().unwrap();
    }
    drop(out);
    let shown = std::sync::Mutex::new(Vec::new());
    let sink = |t: netvigil::ingest::FlowTable| shown.lock().unwrap().push(t);
    let show = ShowFlows { after: Duration::ZERO, every: Duration::ZERO, sink: &sink };
    let outcome =
        quietly(|task| read_keeping(std::slice::from_ref(&path), &ReadOptions::default(), task, Some(&show))).unwrap();
    assert_eq!(outcome.table.len(), rows);
    let shown = shown.into_inner().unwrap();
    assert_eq!(shown.len(), 1, "one preview");
    assert_eq!(shown[0].len(), 10_000);
    // The preview is the file's first rows, as the whole read has them.
    assert_eq!(shown[0].features(), &outcome.table.features()[..10_000 * netvigil::features::N_FEATURES]);
    assert_eq!(shown[0].meta()[9_999].line, outcome.table.meta()[9_999].line);
    // A small file is read whole with no preview.
    let shown_small = std::sync::Mutex::new(0);
    let count = |_: netvigil::ingest::FlowTable| *shown_small.lock().unwrap() += 1;
    let show = ShowFlows { after: Duration::ZERO, every: Duration::ZERO, sink: &count };
    quietly(|task| read_keeping(&[repo_data("cicids2017-sample.csv")], &ReadOptions::default(), task, Some(&show)))
        .unwrap();
    assert_eq!(*shown_small.lock().unwrap(), 0);
}

/// A capture's flows are scored as they finish, while the rest is read (the window and
/// `predict`): the verdicts are those of scoring the table after reading, row for row, in
/// the table's order (start time, not the order the flows finished), and the batch recorded
/// with them is the batch scoring would record.
#[test]
fn captures_scored_while_read_get_the_verdicts_of_scoring_after() {
    use netvigil::service::reading::read;
    use netvigil::service::score_recorded_along;
    use netvigil::service::scored_reading::{ScoredAlong, read_scoring};
    // Three captures in one go: esnet's flows finish out of start order (most rows move when
    // sorted), hping3's SYNs end by timeout after the last packet, then browsing.
    let files = vec![
        crate::common::shared("pcaps/edge/esnet_two_way_all_flags.pcap"),
        repo_data("captures/dos_hping3_syn_flood.pcap"),
        repo_data("captures/benign_http_browsing.pcap"),
    ];
    let model = default_model();
    let (outcome, along) = quietly(|task| read_scoring(&files, &ReadOptions::default(), &model, task, None)).unwrap();
    let along = along.expect("captures are scored while they are read");
    let table = outcome.table;
    let plain = quietly(|task| read(&files, &ReadOptions::default(), task)).unwrap();
    assert_eq!(table.features(), plain.features(), "the same table");
    assert_eq!(table.sources.len(), 3);
    let after = model.scorer.score_raw(table.features());
    assert_eq!(along.verdicts.len(), after.len());
    let differ = along.verdicts.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{differ} of {} rows got another row's verdict", after.len());
    assert!(after.windows(2).any(|w| w[0].p_attack != w[1].p_attack), "verdicts that tell rows apart");

    // Recorded with those verdicts: the same batch and results file as scoring after.
    let findings = detect(&table);
    let results = |dir: &Path| {
        let store = Store::open(dir).unwrap();
        let batch = &store.batches().unwrap()[0];
        let file = std::fs::File::open(store.results_dir().join(batch.results_file.as_ref().unwrap())).unwrap();
        use polars::prelude::SerReader;
        (batch.flows, batch.flagged, polars::prelude::ParquetReader::new(file).finish().unwrap())
    };
    let (with_along, scoring) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = quietly(|task| score_recorded_along(with_along.path(), &model, &table, &findings, None, Some(along), task))
        .unwrap();
    let b = quietly(|task| score_recorded(scoring.path(), &model, &table, &findings, None, task)).unwrap();
    assert_eq!(a.verdicts, b.verdicts);
    assert_eq!(results(with_along.path()), results(scoring.path()));

    // Verdicts are taken only from the very scorer that records: another load of a model
    // (another calibration, say) scores again. Marked verdicts show which were kept.
    let marked = || ScoredAlong {
        scorer: model.scorer.clone(),
        verdicts: after.iter().map(|v| netvigil::model::Verdict { p_attack: 0.25, ..*v }).collect(),
        seconds: 1.0,
    };
    let reloaded = default_model();
    let kept = |m: &models::LoadedModel| {
        let dir = tempfile::tempdir().unwrap();
        quietly(|task| score_recorded_along(dir.path(), m, &table, &findings, None, Some(marked()), task))
            .unwrap()
            .verdicts
    };
    assert!(kept(&model).iter().all(|v| v.p_attack == 0.25), "the same scorer's verdicts are recorded as they are");
    assert_eq!(kept(&reloaded), b.verdicts, "another scorer's are not");

    // Flow files are read in a second or two and scored after, as before.
    let csv = [repo_data("cicids2017-sample.csv")];
    assert!(quietly(|task| read_scoring(&csv, &ReadOptions::default(), &model, task, None)).unwrap().1.is_none());
}

/// Cancelled while a capture is read and scored: reading keeps the flows of the packets read
/// (as without scoring), the scoring thread stops and hands back nothing, and nothing waits.
#[test]
fn cancelling_a_capture_being_scored_keeps_its_flows_and_no_verdicts() {
    use netvigil::service::Progress;
    use netvigil::service::scored_reading::read_scoring;
    use std::sync::atomic::Ordering;
    let files = vec![repo_data("captures/dos_hping3_syn_flood.pcap"), repo_data("captures/benign_dns.pcap")];
    let model = default_model();
    let cancel = AtomicBool::new(false);
    let report = |p: Progress| {
        if p.stage.contains("packets/s") {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let (outcome, along) =
        read_scoring(&files, &ReadOptions::default(), &model, &Task::new(&report, &cancel), None).unwrap();
    assert!(
        outcome.stopped.as_deref().is_some_and(|w| w.contains("stopped after 4096 packets")),
        "{:?}",
        outcome.stopped
    );
    assert!(!outcome.table.is_empty());
    assert!(along.is_none(), "no verdicts for a read that stopped");
}
