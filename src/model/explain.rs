//! Why the model called a flow what it did: integrated gradients (Sundararajan et al. 2017)
//! through burn's autodiff. The attribution of feature j is (x_j − x0_j) times the average
//! gradient of the attack logit, log P(attack) − log P(benign), along the straight path from
//! a baseline flow x0 to the flow x, in the model's input space (the preprocessed features,
//! one per schema feature, so attributions name raw features one to one). By the
//! completeness property they sum to the logit's change from baseline to flow; with a
//! midpoint rule of `steps` points the remainder is the integration error, which the tests
//! bound.
//!
//! Baseline: the median benign training flow (per feature, stored in the bundle's
//! preprocessing): typical traffic the model calls benign, so the attributions of a flagged
//! flow account for all of its way from "nothing to report" to its verdict. Never a flow of
//! zeros, which no network sends. Bundles older than the benign median use the training
//! median of every feature (the stored 50th percentiles; for a model trained mostly on
//! attacks that flow is itself likely an attack), and bundles without percentiles the
//! training mean (0 after standardisation). `BaselineKind` says which.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::model::{MoeModel, forward_mean};
use super::preprocess::Preprocessor;
use crate::features::{FEATURES, N_FEATURES};

/// Points on the path: enough for the sum to match the logit change within a few percent.
pub const DEFAULT_STEPS: usize = 256;

/// The explanation of one flow's verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// Attack logit of the flow and of the baseline.
    pub logit: f32,
    pub baseline_logit: f32,
    /// P(attack) of the baseline flow (the flow's own is in its verdict).
    pub baseline_p_attack: f32,
    /// Signed share of the logit change per feature, in schema order.
    #[serde(serialize_with = "as_slice")]
    pub attributions: [f32; N_FEATURES],
}

fn as_slice<S: serde::Serializer>(a: &[f32; N_FEATURES], s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&a[..], s)
}

impl Explanation {
    /// The `k` features with the largest attributions by size, largest first.
    pub fn top(&self, k: usize) -> Vec<(usize, f32)> {
        let mut v: Vec<(usize, f32)> = self.attributions.iter().copied().enumerate().collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        v.truncate(k);
        v
    }

    /// |Σ attributions − (logit − baseline logit)| relative to |logit − baseline logit|.
    pub fn completeness_gap(&self) -> f32 {
        let sum: f32 = self.attributions.iter().sum();
        let change = self.logit - self.baseline_logit;
        (sum - change).abs() / change.abs().max(1e-6)
    }

    /// "Flow IAT Max +2.31, Init_Win_bytes_backward −1.05, ..." for the top `k`.
    pub fn describe(&self, k: usize) -> String {
        self.top(k).iter().map(|(j, a)| format!("{} {:+.3}", FEATURES[*j].name, a)).collect::<Vec<_>>().join("; ")
    }
}

/// The flow attributions start from, by what the bundle stores (best first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineKind {
    BenignMedian,
    TrainingMedian,
    TrainingMean,
}

impl BaselineKind {
    pub fn of(pre: &Preprocessor) -> Self {
        if pre.benign_median.len() == N_FEATURES {
            BaselineKind::BenignMedian
        } else if pre.quantiles.len() == N_FEATURES && pre.quantiles.iter().all(|q| q.len() == 101) {
            BaselineKind::TrainingMedian
        } else {
            BaselineKind::TrainingMean
        }
    }

    /// "the median benign training flow", for the inspector and `predict`'s notes.
    pub fn describe(self) -> &'static str {
        match self {
            BaselineKind::BenignMedian => "the median benign training flow",
            BaselineKind::TrainingMedian => "the median training flow (benign and attacks)",
            BaselineKind::TrainingMean => "the mean training flow",
        }
    }
}

/// The model on an autodiff device, ready to explain flows one after another.
pub struct Explainer {
    /// The model, or an ensemble's members: explained as the mean of their logits.
    members: Vec<MoeModel>,
    device: Device,
    /// Preprocessed baseline flow.
    baseline: [f32; N_FEATURES],
    kind: BaselineKind,
    pub steps: usize,
}

impl Explainer {
    /// `model` as the scorer holds it (inference mode), on `device` (CPU or GPU).
    pub fn new(members: &[MoeModel], pre: &Preprocessor, device: &Device) -> Self {
        let device = device.clone().autodiff();
        // `valid()` first: dropout stays off on the autodiff device.
        let members = members.iter().map(|m| m.valid().to_device(&device)).collect();
        let mut baseline = [0f32; N_FEATURES];
        let kind = BaselineKind::of(pre);
        match kind {
            BaselineKind::BenignMedian => pre.transform_row(&pre.benign_median, &mut baseline),
            BaselineKind::TrainingMedian => {
                let median: Vec<f32> = pre.quantiles.iter().map(|q| q[50]).collect();
                pre.transform_row(&median, &mut baseline);
            }
            BaselineKind::TrainingMean => {}
        }
        Explainer { members, device, baseline, kind, steps: DEFAULT_STEPS }
    }

    /// Which flow the attributions start from.
    pub fn baseline_kind(&self) -> BaselineKind {
        self.kind
    }

    /// Explains one preprocessed flow `x`.
    pub fn explain(&self, x: &[f32; N_FEATURES]) -> Explanation {
        let m = self.steps.max(1);
        let mut path = Vec::with_capacity((m + 1) * N_FEATURES);
        for k in 0..m {
            let alpha = (k as f32 + 0.5) / m as f32;
            path.extend(self.baseline.iter().zip(x).map(|(b, v)| b + alpha * (v - b)));
        }
        let points = Tensor::<2>::from_data(TensorData::new(path, [m, N_FEATURES]), &self.device).require_grad();
        let logits = attack_logit(forward_mean(&self.members, points.clone()).0);
        let grads = logits.sum().backward();
        let gradient = points.grad(&grads).map(to_vec).unwrap_or_default();
        let mut attributions = [0f32; N_FEATURES];
        for row in gradient.chunks_exact(N_FEATURES) {
            for (a, g) in attributions.iter_mut().zip(row) {
                *a += g / m as f32;
            }
        }
        for ((a, v), b) in attributions.iter_mut().zip(x).zip(&self.baseline) {
            *a *= v - b;
        }
        let ends = self.logits_at(&[self.baseline, *x]);
        Explanation {
            logit: ends[1],
            baseline_logit: ends[0],
            baseline_p_attack: 1.0 / (1.0 + (-ends[0]).exp()),
            attributions,
        }
    }

    /// The preprocessed baseline flow.
    pub fn baseline(&self) -> &[f32; N_FEATURES] {
        &self.baseline
    }

    /// P(attack) of preprocessed flows (as the model alone gives it: no threshold, no
    /// familiarity), for checks such as moving features to the baseline.
    pub fn p_attack_at(&self, rows: &[[f32; N_FEATURES]]) -> Vec<f32> {
        self.logits_at(rows).into_iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect()
    }

    /// Attack logits of preprocessed flows, without a graph.
    fn logits_at(&self, rows: &[[f32; N_FEATURES]]) -> Vec<f32> {
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let x = Tensor::<2>::from_data(
            TensorData::new(data, [rows.len(), N_FEATURES]),
            &self.device.clone().without_autodiff(),
        );
        let plain: Vec<MoeModel> = self.members.iter().map(|m| m.valid()).collect();
        to_vec(attack_logit(forward_mean(&plain, x).0))
    }
}

/// log Σ_attack exp(z) − z_benign per row: the log-odds of P(attack) (benign is class 0),
/// `[batch]`.
fn attack_logit(z: Tensor<2>) -> Tensor<1> {
    let [b, c] = z.dims();
    let benign = z.clone().narrow(1, 0, 1);
    let attacks = z.narrow(1, 1, c - 1);
    let top = attacks.clone().max_dim(1).detach();
    let lse = (attacks - top.clone()).exp().sum_dim(1).log() + top;
    (lse - benign).reshape([b])
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}
