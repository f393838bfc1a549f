//! Classical baselines beside the MoE: decision tree, random forest, gradient-boosted trees and
//! logistic regression, every learner from a maintained crate (no hand-written learners).
//!
//! They solve the binary question the comparison table measures (attack or benign) on the same
//! preprocessed 72 features the MoE sees. Each fitted model returns a score per flow ordered
//! like P(attack), so ROC-AUC is computed the same way for every model.

use linfa::prelude::{Fit, Predict};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::features::N_FEATURES;

/// Row-major preprocessed features as f64, the element type every learner crate takes.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    rows: usize,
    values: Vec<f64>,
}

impl FeatureMatrix {
    /// From row-major f32 rows of 72 features.
    pub fn from_rows(x: &[f32]) -> Self {
        Self { rows: x.len() / N_FEATURES, values: x.iter().map(|&v| v as f64).collect() }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    fn array(&self) -> Array2<f64> {
        Array2::from_shape_vec((self.rows, N_FEATURES), self.values.clone()).expect("rows × 72 values")
    }

    fn column_major(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.values.len()];
        for (r, row) in self.values.chunks_exact(N_FEATURES).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                out[c * self.rows + r] = v;
            }
        }
        out
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
    // Candidates under measurement (second crate per family).
    SmartcoreDecisionTree,
    SmartcoreRandomForest,
    ForustBoosting,
    SmartcoreLogistic,
}

impl Baseline {
    pub const ALL: [Baseline; 8] = [
        Baseline::DecisionTree,
        Baseline::RandomForest,
        Baseline::GradientBoosting,
        Baseline::LogisticRegression,
        Baseline::SmartcoreDecisionTree,
        Baseline::SmartcoreRandomForest,
        Baseline::ForustBoosting,
        Baseline::SmartcoreLogistic,
    ];

    /// The name in tables, with the crate that provides it.
    pub fn label(self) -> &'static str {
        match self {
            Baseline::DecisionTree => "decision tree (linfa-trees)",
            Baseline::RandomForest => "random forest (linfa-ensemble)",
            Baseline::GradientBoosting => "gradient boosting (perpetual)",
            Baseline::LogisticRegression => "logistic regression (linfa-logistic)",
            Baseline::SmartcoreDecisionTree => "decision tree (smartcore)",
            Baseline::SmartcoreRandomForest => "random forest (smartcore)",
            Baseline::ForustBoosting => "gradient boosting (forust-ml)",
            Baseline::SmartcoreLogistic => "logistic regression (smartcore)",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{model}: {message}")]
pub struct BaselineError {
    pub model: &'static str,
    pub message: String,
}

fn failed(model: Baseline, e: impl std::fmt::Display) -> BaselineError {
    BaselineError { model: model.label(), message: e.to_string() }
}

/// A fitted baseline: a score per flow, ordered like P(attack), in [0, 1].
pub trait Detector: Send + Sync {
    fn scores(&self, x: &FeatureMatrix) -> Vec<f32>;
}

/// Trees in the forest; enough for stable votes at this data size.
const FOREST_TREES: usize = 100;
/// Share of features each forest tree sees.
const FOREST_FEATURES: f64 = 0.5;

/// Fits `kind` on `x` with binary targets `attack`.
pub fn fit(kind: Baseline, x: &FeatureMatrix, attack: &[bool], seed: u64) -> Result<Box<dyn Detector>, BaselineError> {
    if !attack.contains(&true) || !attack.contains(&false) {
        return Err(failed(kind, "the training rows hold only one class (benign or attack); a classifier needs both"));
    }
    match kind {
        Baseline::DecisionTree => linfa_tree(x, attack).map_err(|e| failed(kind, e)),
        Baseline::RandomForest => linfa_forest(x, attack, seed).map_err(|e| failed(kind, e)),
        Baseline::GradientBoosting => perpetual_boosting(x, attack, seed).map_err(|e| failed(kind, e)),
        Baseline::LogisticRegression => linfa_logistic(x, attack).map_err(|e| failed(kind, e)),
        Baseline::SmartcoreDecisionTree => smartcore_tree(x, attack).map_err(|e| failed(kind, e)),
        Baseline::SmartcoreRandomForest => smartcore_forest(x, attack, seed).map_err(|e| failed(kind, e)),
        Baseline::ForustBoosting => forust_boosting(x, attack, seed).map_err(|e| failed(kind, e)),
        Baseline::SmartcoreLogistic => smartcore_logistic(x, attack).map_err(|e| failed(kind, e)),
    }
}

fn linfa_dataset(x: &FeatureMatrix, attack: &[bool]) -> linfa::DatasetBase<Array2<f64>, Array1<usize>> {
    linfa::Dataset::new(x.array(), Array1::from_iter(attack.iter().map(|&a| a as usize)))
}

struct LinfaTree(linfa_trees::DecisionTree<f64, usize>);

impl Detector for LinfaTree {
    fn scores(&self, x: &FeatureMatrix) -> Vec<f32> {
        // linfa's tree predicts labels only; a fully grown tree's leaves are pure, so the label is
        // the leaf's class share.
        self.0.predict(&x.array()).iter().map(|&c| c as f32).collect()
    }
}

fn linfa_tree(x: &FeatureMatrix, attack: &[bool]) -> Result<Box<dyn Detector>, linfa::Error> {
    let tree = linfa_trees::DecisionTree::params().max_depth(None).fit(&linfa_dataset(x, attack))?;
    Ok(Box::new(LinfaTree(tree)))
}

struct LinfaForest(linfa_ensemble::EnsembleLearner<linfa_trees::DecisionTree<f64, usize>>);

impl Detector for LinfaForest {
    fn scores(&self, x: &FeatureMatrix) -> Vec<f32> {
        // The vote share of the trees, each on its own feature subset.
        let all = x.array();
        let mut votes = vec![0f32; x.rows()];
        for (tree, features) in self.0.models.iter().zip(&self.0.model_features) {
            let labels: Array1<usize> = tree.predict(&all.select(Axis(1), features));
            for (v, &l) in votes.iter_mut().zip(labels.iter()) {
                *v += l as f32;
            }
        }
        let n = self.0.models.len().max(1) as f32;
        votes.into_iter().map(|v| v / n).collect()
    }
}

fn linfa_forest(x: &FeatureMatrix, attack: &[bool], seed: u64) -> Result<Box<dyn Detector>, linfa::Error> {
    use rand08::SeedableRng;
    let rng = rand08::rngs::StdRng::seed_from_u64(seed);
    let forest = linfa_ensemble::EnsembleLearnerParams::new_fixed_rng(linfa_trees::DecisionTree::params(), rng)
        .ensemble_size(FOREST_TREES)
        .bootstrap_proportion(1.0)
        .feature_proportion(FOREST_FEATURES)
        .fit(&linfa_dataset(x, attack))?;
    Ok(Box::new(LinfaForest(forest)))
}

struct LinfaLogistic(linfa_logistic::FittedLogisticRegression<f64, bool>);

impl Detector for LinfaLogistic {
    fn scores(&self, x: &FeatureMatrix) -> Vec<f32> {
        let p = self.0.predict_probabilities(&x.array());
        // The crate picks which label is "positive"; turn it into P(attack).
        let attack_is_positive = self.0.labels().pos.class;
        p.iter().map(|&p| if attack_is_positive { p as f32 } else { 1.0 - p as f32 }).collect()
    }
}

fn linfa_logistic(x: &FeatureMatrix, attack: &[bool]) -> Result<Box<dyn Detector>, linfa_logistic::error::Error> {
    let data = linfa::Dataset::new(x.array(), Array1::from_vec(attack.to_vec()));
    let model = linfa_logistic::LogisticRegression::default().max_iterations(200).fit(&data)?;
    Ok(Box::new(LinfaLogistic(model)))
}

struct PerpetualBoosting(perpetual::PerpetualBooster);

impl Detector for PerpetualBoosting {
    fn scores(&self, x: &FeatureMatrix) -> Vec<f32> {
        let cols = x.column_major();
        let m = perpetual::Matrix::new(&cols, x.rows(), N_FEATURES);
        self.0.predict_proba(&m, true, false).into_iter().map(|p| p as f32).collect()
    }
}

fn perpetual_boosting(x: &FeatureMatrix, attack: &[bool], seed: u64) -> Result<Box<dyn Detector>, perpetual::errors::PerpetualError> {
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

struct ForustBoosting(forust_ml::GradientBooster);

impl Detector for ForustBoosting {
    fn scores(&self, x: &FeatureMatrix) -> Vec<f32> {
        let cols = x.column_major();
        let m = forust_ml::Matrix::new(&cols, x.rows(), N_FEATURES);
        self.0.predict(&m, true).into_iter().map(|logit| (1.0 / (1.0 + (-logit).exp())) as f32).collect()
    }
}

fn forust_boosting(x: &FeatureMatrix, attack: &[bool], seed: u64) -> Result<Box<dyn Detector>, forust_ml::errors::ForustError> {
    let cols = x.column_major();
    let m = forust_ml::Matrix::new(&cols, x.rows(), N_FEATURES);
    let y: Vec<f64> = attack.iter().map(|&a| a as u8 as f64).collect();
    let mut booster = forust_ml::GradientBooster::default()
        .set_objective_type(forust_ml::objective::ObjectiveType::LogLoss)
        .set_iterations(200)
        .set_learning_rate(0.3)
        .set_max_depth(6)
        .set_seed(seed);
    booster.fit(&m, &y, &vec![1.0; x.rows()], None)?;
    Ok(Box::new(ForustBoosting(booster)))
}

type ScMatrix = smartcore::linalg::basic::matrix::DenseMatrix<f64>;

fn smartcore_data(x: &FeatureMatrix, attack: &[bool]) -> Result<(ScMatrix, Vec<u32>), smartcore::error::Failed> {
    let m = ScMatrix::new(x.rows(), N_FEATURES, x.values.clone(), false)?;
    Ok((m, attack.iter().map(|&a| a as u32).collect()))
}

struct SmartcoreModel(Box<dyn Fn(&ScMatrix) -> Result<Vec<u32>, smartcore::error::Failed> + Send + Sync>);

impl Detector for SmartcoreModel {
    fn scores(&self, x: &FeatureMatrix) -> Vec<f32> {
        let Ok(m) = ScMatrix::new(x.rows(), N_FEATURES, x.values.clone(), false) else { return vec![0.0; x.rows()] };
        (self.0)(&m).map(|l| l.into_iter().map(|c| c as f32).collect()).unwrap_or_else(|_| vec![0.0; x.rows()])
    }
}

fn smartcore_tree(x: &FeatureMatrix, attack: &[bool]) -> Result<Box<dyn Detector>, smartcore::error::Failed> {
    use smartcore::tree::decision_tree_classifier::{DecisionTreeClassifier, DecisionTreeClassifierParameters};
    let (m, y) = smartcore_data(x, attack)?;
    let tree = DecisionTreeClassifier::fit(&m, &y, DecisionTreeClassifierParameters::default())?;
    Ok(Box::new(SmartcoreModel(Box::new(move |m| tree.predict(m)))))
}

fn smartcore_forest(x: &FeatureMatrix, attack: &[bool], seed: u64) -> Result<Box<dyn Detector>, smartcore::error::Failed> {
    use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
    let (m, y) = smartcore_data(x, attack)?;
    let params = RandomForestClassifierParameters::default().with_n_trees(FOREST_TREES as u16).with_seed(seed);
    let forest = RandomForestClassifier::fit(&m, &y, params)?;
    Ok(Box::new(SmartcoreModel(Box::new(move |m| forest.predict(m)))))
}

fn smartcore_logistic(x: &FeatureMatrix, attack: &[bool]) -> Result<Box<dyn Detector>, smartcore::error::Failed> {
    use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
    let (m, y) = smartcore_data(x, attack)?;
    let model = LogisticRegression::fit(&m, &y, LogisticRegressionParameters::default())?;
    Ok(Box::new(SmartcoreModel(Box::new(move |m| model.predict(m)))))
}
