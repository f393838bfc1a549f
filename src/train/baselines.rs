//! Classical baselines beside the MoE: decision tree, random forest, gradient-boosted trees and
//! logistic regression, every learner from a maintained crate (no hand-written learners).
//!
//! They solve the binary question the comparison table measures (attack or benign) on the same
//! preprocessed 72 features the MoE sees. Each fitted model returns a score per flow ordered
//! like P(attack), so ROC-AUC is computed the same way for every model.
//!
//! Crates chosen by measurement (docs/model-comparison.md: two candidates per family, splits
//! (a) and (b)): smartcore's tree and forest (its forest, a true random forest with per-split
//! feature sampling, generalised to the later days far better than linfa-ensemble's bagging);
//! linfa-logistic (F1 0.82 vs 0.44 for smartcore's on the time split, 6x faster, with
//! probabilities); perpetual for boosting (F1 0.81 vs 0.74 for forust-ml on the time split).
//! smartcore's tree and forest predict labels only, so their score is the label (forest: the
//! majority vote) and their ROC-AUC is that of a single operating point.

use linfa::prelude::Fit;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::features::N_FEATURES;

/// Preprocessed features as an `N×72` f64 array, the element type every learner crate takes.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    values: Array2<f64>,
}

impl FeatureMatrix {
    /// From row-major f32 rows of 72 features.
    pub fn from_rows(x: &[f32]) -> Self {
        let rows = x.len() / N_FEATURES;
        Self { values: Array2::from_shape_fn((rows, N_FEATURES), |(r, c)| x[r * N_FEATURES + c] as f64) }
    }

    pub fn rows(&self) -> usize {
        self.values.nrows()
    }

    fn row_major(&self) -> Vec<f64> {
        self.values.iter().copied().collect()
    }

    /// perpetual's `Matrix` is column-major: iterate the transposed view.
    fn column_major(&self) -> Vec<f64> {
        self.values.t().iter().copied().collect()
    }
}

/// The classical model families of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    DecisionTree,
    RandomForest,
    GradientBoosting,
    LogisticRegression,
}

impl Baseline {
    pub const ALL: [Baseline; 4] =
        [Baseline::DecisionTree, Baseline::RandomForest, Baseline::GradientBoosting, Baseline::LogisticRegression];

    /// The name in tables, with the crate that provides it.
    pub fn label(self) -> &'static str {
        match self {
            Baseline::DecisionTree => "decision tree (smartcore)",
            Baseline::RandomForest => "random forest (smartcore)",
            Baseline::GradientBoosting => "gradient boosting (perpetual)",
            Baseline::LogisticRegression => "logistic regression (linfa-logistic)",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{model}: {message}")]
pub struct BaselineError {
    pub model: &'static str,
    pub message: String,
}

pub(crate) fn failed(model: Baseline, e: impl std::fmt::Display) -> BaselineError {
    BaselineError { model: model.label(), message: e.to_string() }
}

/// A fitted baseline: a score per flow, ordered like P(attack), in [0, 1].
pub trait Detector: Send + Sync {
    fn scores(&self, x: &FeatureMatrix) -> Result<Vec<f32>, String>;
}

/// Trees in the forest; enough for stable votes at this data size.
const FOREST_TREES: u16 = 100;

/// Fits `kind` on `x` with binary targets `attack`.
pub fn fit(kind: Baseline, x: &FeatureMatrix, attack: &[bool], seed: u64) -> Result<Box<dyn Detector>, BaselineError> {
    if !attack.contains(&true) || !attack.contains(&false) {
        return Err(failed(kind, "the training rows hold only one class (benign or attack); a classifier needs both"));
    }
    match kind {
        Baseline::DecisionTree => smartcore_tree(x, attack).map_err(|e| failed(kind, e)),
        Baseline::RandomForest => smartcore_forest(x, attack, seed).map_err(|e| failed(kind, e)),
        Baseline::GradientBoosting => perpetual_boosting(x, attack, seed).map_err(|e| failed(kind, e)),
        Baseline::LogisticRegression => linfa_logistic(x, attack).map_err(|e| failed(kind, e)),
    }
}

struct LinfaLogistic(linfa_logistic::FittedLogisticRegression<f64, bool>);

impl Detector for LinfaLogistic {
    fn scores(&self, x: &FeatureMatrix) -> Result<Vec<f32>, String> {
        let p = self.0.predict_probabilities(&x.values);
        // The crate picks which label is "positive"; turn it into P(attack).
        let attack_is_positive = self.0.labels().pos.class;
        Ok(p.iter().map(|&p| if attack_is_positive { p as f32 } else { 1.0 - p as f32 }).collect())
    }
}

fn linfa_logistic(x: &FeatureMatrix, attack: &[bool]) -> Result<Box<dyn Detector>, linfa_logistic::error::Error> {
    let data = linfa::Dataset::new(x.values.clone(), Array1::from_vec(attack.to_vec()));
    let model = linfa_logistic::LogisticRegression::default().max_iterations(200).fit(&data)?;
    Ok(Box::new(LinfaLogistic(model)))
}

struct PerpetualBoosting(perpetual::PerpetualBooster);

impl Detector for PerpetualBoosting {
    fn scores(&self, x: &FeatureMatrix) -> Result<Vec<f32>, String> {
        let cols = x.column_major();
        let m = perpetual::Matrix::new(&cols, x.rows(), N_FEATURES);
        Ok(self.0.predict_proba(&m, true, false).into_iter().map(|p| p as f32).collect())
    }
}

fn perpetual_boosting(
    x: &FeatureMatrix,
    attack: &[bool],
    seed: u64,
) -> Result<Box<dyn Detector>, perpetual::errors::PerpetualError> {
    let cols = x.column_major();
    let m = perpetual::Matrix::new(&cols, x.rows(), N_FEATURES);
    let y: Vec<f64> = attack.iter().map(|&a| a as u8 as f64).collect();
    let mut booster = perpetual::PerpetualBooster::default()
        .set_objective(perpetual::objective::Objective::LogLoss)
        .set_budget(1.0)
        .set_seed(seed);
    booster.fit(&m, &y, None, None)?;
    Ok(Box::new(PerpetualBoosting(booster)))
}

type ScMatrix = smartcore::linalg::basic::matrix::DenseMatrix<f64>;

fn smartcore_data(x: &FeatureMatrix, attack: &[bool]) -> Result<(ScMatrix, Vec<u32>), smartcore::error::Failed> {
    let m = ScMatrix::new(x.rows(), N_FEATURES, x.row_major(), false)?;
    Ok((m, attack.iter().map(|&a| a as u32).collect()))
}

struct SmartcoreModel(Box<dyn Fn(&ScMatrix) -> Result<Vec<u32>, smartcore::error::Failed> + Send + Sync>);

impl Detector for SmartcoreModel {
    fn scores(&self, x: &FeatureMatrix) -> Result<Vec<f32>, String> {
        let m = ScMatrix::new(x.rows(), N_FEATURES, x.row_major(), false).map_err(|e| e.to_string())?;
        let labels = (self.0)(&m).map_err(|e| e.to_string())?;
        Ok(labels.into_iter().map(|c| c as f32).collect())
    }
}

fn smartcore_tree(x: &FeatureMatrix, attack: &[bool]) -> Result<Box<dyn Detector>, smartcore::error::Failed> {
    use smartcore::tree::decision_tree_classifier::{DecisionTreeClassifier, DecisionTreeClassifierParameters};
    let (m, y) = smartcore_data(x, attack)?;
    let tree = DecisionTreeClassifier::fit(&m, &y, DecisionTreeClassifierParameters::default())?;
    Ok(Box::new(SmartcoreModel(Box::new(move |m| tree.predict(m)))))
}

fn smartcore_forest(
    x: &FeatureMatrix,
    attack: &[bool],
    seed: u64,
) -> Result<Box<dyn Detector>, smartcore::error::Failed> {
    use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
    let (m, y) = smartcore_data(x, attack)?;
    let params = RandomForestClassifierParameters::default().with_n_trees(FOREST_TREES).with_seed(seed);
    let forest = RandomForestClassifier::fit(&m, &y, params)?;
    Ok(Box::new(SmartcoreModel(Box::new(move |m| forest.predict(m)))))
}
