//! Explanations on real flows: integrated gradients are complete (they sum to the change of
//! the attack logit from the baseline) and faithful (the features they rank first move the
//! verdict more than random ones).

use netvigil::features::N_FEATURES;
use netvigil::ingest::{ReadOptions, read_flows};
use netvigil::model::explain::BaselineKind;
use netvigil::model::{DeviceChoice, Scorer};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

use crate::common::repo_data;

/// The shipped model and the sample's flows, preprocessed; attacks first `n`.
fn attack_flows(n: usize) -> (Scorer, Vec<[f32; N_FEATURES]>) {
    let (scorer, _, _) = Scorer::load(&crate::common::default_model(), DeviceChoice::Cpu).unwrap();
    let table = read_flows(&[repo_data("cicids2017-sample.csv")], &ReadOptions::default()).unwrap();
    let families = table.families().unwrap();
    let rows = (0..table.len())
        .filter(|&r| families[r].is_attack())
        .take(n)
        .map(|r| {
            let mut raw = [0f32; N_FEATURES];
            raw.copy_from_slice(table.row(r));
            scorer.preprocess_row(&raw)
        })
        .collect();
    (scorer, rows)
}

#[test]
fn attributions_sum_to_the_change_of_the_attack_logit() {
    let (scorer, flows) = attack_flows(120);
    let explainer = scorer.explainer();
    let mut gaps: Vec<f32> = flows
        .iter()
        .map(|x| explainer.explain(x))
        .filter(|e| (e.logit - e.baseline_logit).abs() > 0.5)
        .map(|e| e.completeness_gap())
        .collect();
    assert!(gaps.len() > 100, "{} flows far enough from the baseline", gaps.len());
    gaps.sort_by(f32::total_cmp);
    let (median, p90) = (gaps[gaps.len() / 2], gaps[gaps.len() * 9 / 10]);
    assert!(median < 0.03 && p90 < 0.05, "completeness gap: median {median:.4}, 90th percentile {p90:.4}");
    eprintln!("completeness over {} real attack flows: gap median {median:.4}, 90th percentile {p90:.4}", gaps.len());
}

/// The baseline is typical benign traffic to the model: a flagged flow's attributions then
/// account for its whole way to the verdict.
#[test]
fn explanations_start_from_the_median_benign_training_flow() {
    let (scorer, flows) = attack_flows(1);
    let explainer = scorer.explainer();
    assert_eq!(explainer.baseline_kind(), BaselineKind::BenignMedian);
    let e = explainer.explain(&flows[0]);
    assert!(e.baseline_p_attack < 0.05, "P(attack) of the baseline {}", e.baseline_p_attack);
    assert!(e.baseline_p_attack < scorer.threshold, "the baseline is not flagged");
    eprintln!("P(attack) of the median benign training flow: {:.6}", e.baseline_p_attack);
}

#[test]
fn the_top_features_move_the_verdict_more_than_random_ones() {
    let (scorer, flows) = attack_flows(300);
    assert_eq!(flows.len(), 300);
    let explainer = scorer.explainer();
    let base = explainer.baseline();
    let mut rng = StdRng::seed_from_u64(7);
    let (mut top_drop, mut random_drop) = (0f64, 0f64);
    for x in &flows {
        let e = explainer.explain(x);
        let mut top = *x;
        for (j, _) in e.top(5) {
            top[j] = base[j];
        }
        let mut random = *x;
        let mut features: Vec<usize> = (0..N_FEATURES).collect();
        features.shuffle(&mut rng);
        for &j in &features[..5] {
            random[j] = base[j];
        }
        let p = explainer.p_attack_at(&[*x, top, random]);
        top_drop += f64::from((p[0] - p[1]).abs());
        random_drop += f64::from((p[0] - p[2]).abs());
    }
    let (top_drop, random_drop) = (top_drop / 300.0, random_drop / 300.0);
    assert!(top_drop > 2.0 * random_drop, "mean change of P(attack): top-5 {top_drop:.4}, random 5 {random_drop:.4}");
    eprintln!("faithfulness over 300 real attack flows: top-5 {top_drop:.4}, random 5 {random_drop:.4}");
}
