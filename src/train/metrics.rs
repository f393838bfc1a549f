//! Detection metrics: binary (attack vs benign) and per family.

use serde::{Deserialize, Serialize};

use crate::ingest::label::AttackFamily;
use crate::model::Verdict;

const N: usize = AttackFamily::COUNT;

/// Recall of one family: how many of its flows were flagged as attacks (binary detection) and
/// how many got the right family.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FamilyRecall {
    pub family: AttackFamily,
    pub flows: usize,
    /// Share flagged as attack (for benign: share correctly left benign).
    pub detection_recall: f64,
    /// Share assigned exactly this family.
    pub family_recall: f64,
}

/// Everything `evaluate` reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    pub flows: usize,
    pub attacks: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub accuracy: f64,
    /// `None` when the data holds only one class.
    pub roc_auc: Option<f64>,
    pub false_positive_rate: f64,
    /// Accuracy of the 9-way family prediction.
    pub family_accuracy: f64,
    pub per_family: Vec<FamilyRecall>,
    /// `confusion[true][predicted]`, family indices.
    pub confusion: Vec<Vec<usize>>,
    /// Mean gate weight of the tabular and temporal experts.
    pub mean_gate: [f64; 2],
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

impl Metrics {
    pub fn compute(verdicts: &[Verdict], truth: &[AttackFamily]) -> Self {
        assert_eq!(verdicts.len(), truth.len(), "one verdict per labelled flow");
        let mut confusion = vec![vec![0usize; N]; N];
        let mut counts = BinaryCounts::default();
        let mut gate = [0f64; 2];
        for (v, t) in verdicts.iter().zip(truth) {
            confusion[t.index()][v.family.index()] += 1;
            counts.add(t.is_attack(), v.is_attack());
            gate[0] += v.gate[0] as f64;
            gate[1] += v.gate[1] as f64;
        }
        let n = verdicts.len();
        let per_family = AttackFamily::ALL
            .iter()
            .filter_map(|&family| {
                let row = &confusion[family.index()];
                let flows: usize = row.iter().sum();
                (flows > 0).then(|| {
                    let flagged: usize = (1..N).map(|j| row[j]).sum();
                    let detected = if family.is_attack() { flagged } else { flows - flagged };
                    FamilyRecall { family, flows, detection_recall: ratio(detected, flows), family_recall: ratio(row[family.index()], flows) }
                })
            })
            .collect();
        let correct_family: usize = (0..N).map(|i| confusion[i][i]).sum();
        let scores: Vec<f32> = verdicts.iter().map(|v| v.p_attack).collect();
        let positives: Vec<bool> = truth.iter().map(|t| t.is_attack()).collect();
        Self {
            flows: n,
            attacks: counts.tp + counts.fneg,
            precision: counts.precision(),
            recall: counts.recall(),
            f1: counts.f1(),
            accuracy: ratio(counts.tp + counts.tn, n),
            roc_auc: roc_auc(&scores, &positives),
            false_positive_rate: counts.false_positive_rate(),
            family_accuracy: ratio(correct_family, n),
            per_family,
            confusion,
            mean_gate: if n == 0 { [0.0; 2] } else { [gate[0] / n as f64, gate[1] / n as f64] },
        }
    }

    /// A human-readable report.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "flows {}  attacks {}\nprecision {:.4}  recall {:.4}  F1 {:.4}  accuracy {:.4}\nROC-AUC {}  false-positive rate {:.4}  family accuracy {:.4}\nmean gate: tabular {:.3}  temporal {:.3}\n",
            self.flows,
            self.attacks,
            self.precision,
            self.recall,
            self.f1,
            self.accuracy,
            self.roc_auc.map_or("n/a".to_string(), |a| format!("{a:.4}")),
            self.false_positive_rate,
            self.family_accuracy,
            self.mean_gate[0],
            self.mean_gate[1],
        );
        s.push_str("\nfamily         flows  detected  family-correct\n");
        for f in &self.per_family {
            s.push_str(&format!("{:<13} {:>6}  {:>8.4}  {:>14.4}\n", f.family.name(), f.flows, f.detection_recall, f.family_recall));
        }
        s.push_str("\nconfusion (rows: true, columns: predicted)\n              ");
        for f in AttackFamily::ALL {
            s.push_str(&format!("{:>7.7}", f.name()));
        }
        s.push('\n');
        for (i, row) in self.confusion.iter().enumerate() {
            if row.iter().sum::<usize>() == 0 {
                continue;
            }
            s.push_str(&format!("{:<13} ", AttackFamily::ALL[i].name()));
            for c in row {
                s.push_str(&format!("{c:>7}"));
            }
            s.push('\n');
        }
        s
    }
}

/// The binary confusion counts (attack is the positive class).
#[derive(Debug, Clone, Copy, Default)]
struct BinaryCounts {
    tp: usize,
    fp: usize,
    tn: usize,
    fneg: usize,
}

impl BinaryCounts {
    fn add(&mut self, truth: bool, flagged: bool) {
        match (truth, flagged) {
            (true, true) => self.tp += 1,
            (true, false) => self.fneg += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fneg)
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
    }
    fn false_positive_rate(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
}

/// Attack-vs-benign metrics of any scorer: the columns of the model comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BinaryMetrics {
    pub flows: usize,
    pub attacks: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub false_positive_rate: f64,
    /// `None` when the data holds only one class.
    pub roc_auc: Option<f64>,
    /// Share of attacks caught by the best threshold that flags at most 1 % of the benign
    /// flows: one point of the ROC curve, for a fixed false-alarm budget.
    #[serde(default)]
    pub recall_at_1pct_fpr: Option<f64>,
}

/// The false-positive budget of [`BinaryMetrics::recall_at_1pct_fpr`].
pub const FPR_BUDGET: f64 = 0.01;

impl BinaryMetrics {
    /// A flow is flagged when its score is at least `threshold`; ROC-AUC uses the scores.
    pub fn from_scores(scores: &[f32], threshold: f32, attack: &[bool]) -> Self {
        let mut counts = BinaryCounts::default();
        for (&s, &a) in scores.iter().zip(attack) {
            counts.add(a, s >= threshold);
        }
        Self {
            flows: scores.len(),
            attacks: counts.tp + counts.fneg,
            precision: counts.precision(),
            recall: counts.recall(),
            f1: counts.f1(),
            false_positive_rate: counts.false_positive_rate(),
            roc_auc: roc_auc(scores, attack),
            recall_at_1pct_fpr: recall_at_fpr(scores, attack, FPR_BUDGET),
        }
    }
}

impl From<&Metrics> for BinaryMetrics {
    fn from(m: &Metrics) -> Self {
        Self {
            flows: m.flows,
            attacks: m.attacks,
            precision: m.precision,
            recall: m.recall,
            f1: m.f1,
            false_positive_rate: m.false_positive_rate,
            roc_auc: m.roc_auc,
            recall_at_1pct_fpr: None,
        }
    }
}

/// Recall when flagging `score > t` for the lowest `t` that flags at most `max_fpr` of the
/// benign flows (ties at `t` stay unflagged, so the budget holds). `None` without both classes.
pub fn recall_at_fpr(scores: &[f32], attack: &[bool], max_fpr: f64) -> Option<f64> {
    let mut benign: Vec<f32> = scores.iter().zip(attack).filter(|(_, a)| !**a).map(|(s, _)| *s).collect();
    let attacks = attack.iter().filter(|&&a| a).count();
    if benign.is_empty() || attacks == 0 {
        return None;
    }
    benign.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_fpr * benign.len() as f64).floor() as usize;
    let threshold = benign.get(allowed).copied().unwrap_or(f32::NEG_INFINITY);
    let caught = scores.iter().zip(attack).filter(|(s, a)| **a && **s > threshold).count();
    Some(caught as f64 / attacks as f64)
}

/// Rank-based ROC-AUC (Mann–Whitney U with average ranks for ties).
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}
