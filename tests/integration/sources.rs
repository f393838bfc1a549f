//! Traffic that is not the training sample: derived copies' labels, cross-source splits,
//! masked features, and the shipped model on whole files it never saw in training.

use std::path::PathBuf;

use netvigil::features::{FEATURE_GROUPS, FeatureId, N_FEATURES, resolve_features};
use netvigil::ingest::dialect::FlowSemantics;
use netvigil::ingest::label::AttackFamily;
use netvigil::ingest::{ReadOptions, read_flows};
use netvigil::model::Preprocessor;
use netvigil::model::inference::{DeviceChoice, Scorer};
use netvigil::train::split::SplitError;
use netvigil::train::{SplitKind, split};

use super::common::shared;

fn read(files: &[&str]) -> netvigil::ingest::FlowTable {
    let paths: Vec<PathBuf> = files.iter().map(|f| shared(f)).collect();
    read_flows(&paths, &ReadOptions::default()).expect("real data readable")
}

const GROUPED: &str = "cicids2017-original/MachineLearningCVE_grouped_labels_sample_A.csv";
const BINARY: &str = "cicids2017-original/MachineLearningCVE_Tuesday_subset_binary_SSH.csv";
const UNB_DAY2: &str = "unb-live/2017-12-15_online.csv";

#[test]
fn grouped_and_binarised_labels_map_to_families() {
    let grouped = read(&[GROUPED]).family_counts();
    // The publisher's own counts (shared/data/README.md).
    let expect = [
        (AttackFamily::Botnet, 1008),
        (AttackFamily::Webattack, 1128),
        (AttackFamily::Dos, 456),
        (AttackFamily::Bruteforce, 243),
        (AttackFamily::Portscan, 215),
        (AttackFamily::Benign, 104),
        (AttackFamily::Infiltration, 13),
    ];
    for (family, n) in expect {
        assert_eq!(grouped.get(&family).copied(), Some(n), "{family}");
    }
    let binary = read(&[BINARY]).family_counts();
    assert_eq!(binary.get(&AttackFamily::Benign).copied(), Some(4909));
    assert_eq!(binary.get(&AttackFamily::UnknownAttack).copied(), Some(89));
    for raw in ["0", "normal", "Normal"] {
        assert_eq!(AttackFamily::from_label(raw), Some(AttackFamily::Benign), "{raw}");
    }
    for raw in ["1", "attack", "ATTACK"] {
        let f = AttackFamily::from_label(raw).unwrap();
        assert!(f.is_attack() && !f.is_class(), "{raw}: an attack of no predicted family");
    }
    assert_eq!(AttackFamily::from_label("BruteForce"), Some(AttackFamily::Bruteforce));
    assert_eq!(AttackFamily::from_label("WebAttack"), Some(AttackFamily::Webattack));
    assert_eq!(AttackFamily::from_label("2"), None, "other numbers stay unknown labels");
}

#[test]
fn test_files_are_held_out_whole_and_unknown_families_only_tested() {
    let table =
        read(&["cicids2017-improved/BENIGN_5000.csv", "cicids2017-improved/Portscan_5000.csv", BINARY, UNB_DAY2]);
    let families = table.families().unwrap();
    let source_of = |i: usize| table.sources[table.meta()[i].source as usize].path.clone();
    let held = |i: usize| source_of(i).ends_with("2017-12-15_online.csv");
    let s = split(&table, SplitKind::Random, &["2017-12-15_online.csv".to_string()], 5).unwrap();
    assert!(s.train.iter().chain(&s.valid).all(|&i| !held(i)), "a held-out file's row was trained on");
    assert!(s.train.iter().chain(&s.valid).all(|&i| families[i].is_class()), "an unknown-family row was trained on");
    let unique = table.unique_rows();
    let held_unique = unique.iter().filter(|&&i| held(i)).count();
    assert_eq!(
        s.test.iter().filter(|&&i| held(i)).count(),
        held_unique,
        "every unique row of the held-out file is tested"
    );
    assert!(s.test.iter().any(|&i| families[i] == AttackFamily::UnknownAttack));
    // Stratified per file and family: the binarised file's benign rows are in every part.
    let from_binary = |part: &[usize]| {
        part.iter().filter(|&&i| source_of(i).ends_with("MachineLearningCVE_Tuesday_subset_binary_SSH.csv")).count()
    };
    assert!(from_binary(&s.train) > 0 && from_binary(&s.valid) > 0 && from_binary(&s.test) > 0);
}

#[test]
fn a_test_file_that_matches_nothing_is_an_error() {
    let table = read(&["cicids2017-improved/BENIGN_5000.csv", "cicids2017-improved/Portscan_5000.csv"]);
    let err = split(&table, SplitKind::Random, &["no-such-day.csv".to_string()], 1).unwrap_err();
    assert!(matches!(err, SplitError::NoSuchTestFile(ref n) if n == "no-such-day.csv"), "{err}");
}

#[test]
fn masked_features_enter_the_model_as_the_training_mean() {
    let table = read(&["cicids2017-improved/BENIGN_5000.csv"]);
    let masked = resolve_features(&["init-window".into(), "Flow Duration".into()]).unwrap();
    assert_eq!(
        masked,
        vec![
            FeatureId::FlowDuration as usize,
            FeatureId::InitWinBytesFwd as usize,
            FeatureId::InitWinBytesBwd as usize
        ]
    );
    let p = Preprocessor::fit(table.features()).unwrap().with_masked(&masked);
    p.validate().unwrap();
    let mut row = table.row(0).to_vec();
    let (mut a, mut b) = (vec![0f32; N_FEATURES], vec![0f32; N_FEATURES]);
    p.transform_row(&row, &mut a);
    row[FeatureId::InitWinBytesFwd as usize] = 1024.0;
    row[FeatureId::FlowDuration as usize] *= 7.0;
    row[FeatureId::TotalFwdPackets as usize] += 5.0;
    p.transform_row(&row, &mut b);
    for &j in &masked {
        assert_eq!((a[j], b[j]), (0.0, 0.0), "masked feature {j}");
    }
    assert_ne!(
        a[FeatureId::TotalFwdPackets as usize],
        b[FeatureId::TotalFwdPackets as usize],
        "unmasked features still move"
    );
    assert!(resolve_features(&["no-such-group".into()]).unwrap_err().contains(FEATURE_GROUPS[0].0));
}

/// The shipped model was trained with these two files held out whole (scripts/cross_source.sh,
/// README): a day of another network and a day of the original release. Its verdicts on them
/// are the measurement of "holds on traffic that is not the training sample".
#[test]
fn shipped_model_holds_on_a_day_and_a_network_it_never_saw() {
    let model = crate::common::default_model();
    let (scorer, bundle, _) = Scorer::load(&model, DeviceChoice::Cpu).unwrap();
    let trained_on = &bundle.manifest.semantics;
    assert!(
        trained_on.contains(&FlowSemantics::Tool2017) && trained_on.contains(&FlowSemantics::Corrected),
        "{trained_on:?}"
    );
    let held: Vec<String> = serde_json::from_value(bundle.metrics["report"]["test_files"].clone()).unwrap_or_default();
    for file in [UNB_DAY2, BINARY] {
        assert!(held.iter().any(|h| file.ends_with(h.as_str())), "{file} was not held out of training: {held:?}");
    }
    let rate = |file: &str, attack: bool| {
        let table = read(&[file]);
        let families = table.families().unwrap();
        let verdicts = scorer.score_table(&table);
        let rows: Vec<usize> = (0..table.len()).filter(|&i| families[i].is_attack() == attack).collect();
        rows.iter().filter(|&&i| verdicts[i].is_attack()).count() as f64 / rows.len() as f64
    };
    let unb_fpr = rate(UNB_DAY2, false);
    let tuesday_fpr = rate(BINARY, false);
    let tuesday_recall = rate(BINARY, true);
    assert!(unb_fpr <= 0.01, "false positives on another network's unseen day: {unb_fpr:.4}");
    assert!(tuesday_fpr <= 0.01, "false positives on the original release's unseen day: {tuesday_fpr:.4}");
    // The bundle's alert threshold (0.768, chosen on validation rows) is what brought this
    // day's false positives from 0.0185 at 0.5 to 0.0059; it costs the day's SSH-Patator,
    // caught at 1.000 at 0.5 and 0.854 now (README: the trade, and why it stays).
    assert!(tuesday_recall >= 0.8, "SSH-Patator of the unseen day caught: {tuesday_recall:.4}");
}

/// Share of an attack capture's flows that must be marked, and most of a benign capture's that
/// may be: the targets (README: with the findings on HTTP, sqlmap's 63 flows are
/// marked at 0.952 and wapiti's 9 at 1.000, the lowest of the attack captures; no benign flow
/// is marked).
const ATTACK_CAPTURE_MARKED: f64 = 0.9;
const BENIGN_CAPTURE_MARKED: f64 = 0.02;

/// The second, separate run of every capture tool (data/captures-heldout, made by
/// scripts/make_captures.sh; the shipped model trained on the first run only): what an analyst
/// sees marked, a flow flagged by the model or covered by a host-level finding.
#[test]
fn shipped_model_and_findings_mark_a_capture_run_they_never_saw() {
    let dir = crate::common::repo_data("captures-heldout");
    let model = crate::common::default_model();
    let (scorer, _, _) = Scorer::load(&model, DeviceChoice::Cpu).unwrap();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.csv")).unwrap();
    let mut report = Vec::new();
    // (marked, flows) over all attack captures, then all benign ones.
    let mut totals = [(0usize, 0usize); 2];
    for line in manifest.lines().skip(1) {
        let mut cells = line.split(',');
        let (file, kind) = (cells.next().unwrap(), cells.next().unwrap());
        let table = read_flows(&[dir.join(file)], &ReadOptions::default()).unwrap();
        let verdicts = scorer.score_table(&table);
        let mut marked: Vec<bool> = verdicts.iter().map(|v| v.is_attack()).collect();
        for finding in netvigil::detect::detect(&table).findings {
            for r in finding.rows {
                marked[r as usize] = true;
            }
        }
        let n_marked = marked.iter().filter(|&&m| m).count();
        let share = n_marked as f64 / table.len().max(1) as f64;
        let t = &mut totals[usize::from(kind != "attack")];
        t.0 += n_marked;
        t.1 += table.len();
        report.push(format!("{file}: {share:.3} of {} flows", table.len()));
        let ok = if kind == "attack" { share >= ATTACK_CAPTURE_MARKED } else { share <= BENIGN_CAPTURE_MARKED };
        assert!(ok, "{file} ({kind}): {share:.3} marked\n{}", report.join("\n"));
    }
    let [(attacks_marked, attacks), (benign_marked, benign)] = totals;
    assert!(
        attacks_marked as f64 >= 0.9 * attacks as f64,
        "{attacks_marked} of {attack_flows} attack flows marked",
        attack_flows = attacks
    );
    assert!(benign_marked as f64 <= 0.05 * benign as f64, "{benign_marked} of {benign} benign flows marked");
}
