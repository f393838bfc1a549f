//! Detection metrics: binary (attack vs benign) and per family.

use serde::{Deserialize, Serialize};

use crate::ingest::label::AttackFamily;
use crate::model::{ExpertSpec, N_EXPERTS, Verdict};

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
    pub mean_gate: [f64; N_EXPERTS],
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

impl Metrics {
    pub fn compute(verdicts: &[Verdict], truth: &[AttackFamily]) -> Self {
        assert_eq!(verdicts.len(), truth.len(), "one verdict per labelled flow");
        let mut confusion = vec![vec![0usize; N]; N];
        let mut counts = BinaryCounts::default();
        let mut gate = [0f64; N_EXPERTS];
        for (v, t) in verdicts.iter().zip(truth) {
            confusion[t.index()][v.family.index()] += 1;
            counts.add(t.is_attack(), v.is_attack());
            for (sum, w) in gate.iter_mut().zip(v.gate) {
                *sum += w as f64;
            }
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
                    FamilyRecall {
                        family,
                        flows,
                        detection_recall: ratio(detected, flows),
                        family_recall: ratio(row[family.index()], flows),
                    }
                })
            })
            .collect();
        // Rows of unknown family (binarised labels) have no family to get right.
        let correct_family: usize = (0..N).map(|i| confusion[i][i]).sum();
        let with_family = truth.iter().filter(|t| t.is_class()).count();
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
            family_accuracy: ratio(correct_family, with_family),
            per_family,
            confusion,
            mean_gate: gate.map(|g| if n == 0 { 0.0 } else { g / n as f64 }),
        }
    }

    /// A human-readable report.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "flows {}  attacks {}\nprecision {:.4}  recall {:.4}  F1 {:.4}  accuracy {:.4}\nROC-AUC {}  false-positive rate {:.4}  family accuracy {:.4}\nmean gate: {}\n",
            self.flows,
            self.attacks,
            self.precision,
            self.recall,
            self.f1,
            self.accuracy,
            self.roc_auc.map_or("n/a".to_string(), |a| format!("{a:.4}")),
            self.false_positive_rate,
            self.family_accuracy,
            ExpertSpec::ALL
                .iter()
                .map(|e| format!("{} {:.3}", e.short.to_lowercase(), self.mean_gate[e.slot]))
                .collect::<Vec<_>>()
                .join("  "),
        );
        s.push_str("\nfamily         flows  detected  family-correct\n");
        for f in &self.per_family {
            s.push_str(&format!(
                "{:<13} {:>6}  {:>8.4}  {:>14.4}\n",
                f.family.name(),
                f.flows,
                f.detection_recall,
                f.family_recall
            ));
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

/// Test results of one source of a multi-source training set: a data folder (e.g. `unb-live`,
/// `cicids2017-original`), so each network, release and tool is judged on its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceMetrics {
    /// The folder the files came from.
    pub source: String,
    /// The files of that folder that took part in the test set.
    pub files: Vec<String>,
    pub benign: usize,
    pub attacks: usize,
    /// Share of benign test flows flagged; `None` without benign flows.
    pub false_positive_rate: Option<f64>,
    /// Share of attack test flows flagged; `None` without attacks.
    pub recall: Option<f64>,
    /// `None` unless the source has both classes.
    pub f1: Option<f64>,
    /// Per true family (unknown-family attacks included): flows and share flagged as attack.
    pub per_family: Vec<(AttackFamily, usize, f64)>,
    /// Test flows marked unfamiliar (far from all training data).
    #[serde(default)]
    pub unfamiliar: usize,
}

impl SourceMetrics {
    /// Groups test rows by the folder of their source file. `rows` are table row indices,
    /// parallel to `flagged` (flagged as attack), `truth` and `unfamiliar` (may be empty).
    pub fn by_source(
        table: &crate::ingest::FlowTable,
        rows: &[usize],
        flagged: &[bool],
        truth: &[AttackFamily],
        unfamiliar: &[bool],
    ) -> Vec<SourceMetrics> {
        // Names once per source file, not once per row.
        let names: Vec<(String, String)> = table.sources.iter().map(|s| (s.folder_name(), s.file_name())).collect();
        let mut groups: std::collections::BTreeMap<&str, (Vec<&str>, Vec<usize>)> = Default::default();
        for (k, &r) in rows.iter().enumerate() {
            let (folder, file) = &names[table.meta()[r].source as usize];
            let entry = groups.entry(folder).or_default();
            if !entry.0.contains(&file.as_str()) {
                entry.0.push(file);
            }
            entry.1.push(k);
        }
        groups
            .into_iter()
            .map(|(source, (mut files, ks))| {
                files.sort();
                let mut counts = BinaryCounts::default();
                let unfamiliar = ks.iter().filter(|&&k| unfamiliar.get(k).copied().unwrap_or(false)).count();
                let mut fam: std::collections::BTreeMap<AttackFamily, (usize, usize)> = Default::default();
                for &k in &ks {
                    let (t, flagged) = (truth[k], flagged[k]);
                    counts.add(t.is_attack(), flagged);
                    let e = fam.entry(t).or_default();
                    e.0 += 1;
                    e.1 += flagged as usize;
                }
                let (benign, attacks) = (counts.tn + counts.fp, counts.tp + counts.fneg);
                SourceMetrics {
                    source: source.to_string(),
                    files: files.into_iter().map(str::to_string).collect(),
                    benign,
                    attacks,
                    false_positive_rate: (benign > 0).then(|| counts.false_positive_rate()),
                    recall: (attacks > 0).then(|| counts.recall()),
                    f1: (benign > 0 && attacks > 0).then(|| counts.f1()),
                    per_family: fam.into_iter().map(|(f, (n, flagged))| (f, n, ratio(flagged, n))).collect(),
                    unfamiliar,
                }
            })
            .collect()
    }

    /// One table for all sources, as `train` prints it.
    pub fn table(sources: &[SourceMetrics]) -> String {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
        let mut s = format!(
            "{:<22} {:>7} {:>7} {:>8} {:>8} {:>8} {:>10}\n",
            "source", "benign", "attacks", "FPR", "recall", "F1", "unfamiliar"
        );
        for m in sources {
            s.push_str(&format!(
                "{:<22} {:>7} {:>7} {:>8} {:>8} {:>8} {:>10}\n",
                m.source,
                m.benign,
                m.attacks,
                opt(m.false_positive_rate),
                opt(m.recall),
                opt(m.f1),
                m.unfamiliar
            ));
            let fams: Vec<String> = m
                .per_family
                .iter()
                .filter(|(f, _, _)| f.is_attack())
                .map(|(f, n, r)| format!("{} {r:.3} of {n}", f.name()))
                .collect();
            if !fams.is_empty() {
                s.push_str(&format!("{:<22} detected: {}\n", "", fams.join(", ")));
            }
        }
        s
    }
}
