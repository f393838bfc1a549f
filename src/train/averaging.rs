//! An exponential moving average of the weights over training steps (Polyak averaging; for
//! shifts between domains, Cha et al. 2021, "SWAD: Domain Generalization by Seeking Flat
//! Minima"). One epoch's weights are one point of a noisy walk: two seeds of the same recipe
//! ended 1.5 points apart in false positives on a day neither saw (README, seed table). The
//! average over the last few thousand steps sits nearer the middle of the flat region the walk
//! moves in, which is what a day of another network tests.
//!
//! burn has no built-in weight average (its `Learner`'s EMA is not in 0.22), so it is done here
//! with a module visitor and mapper: the current weights are collected by `ParamId` (which
//! `valid()` and `clone()` keep) and blended into the average parameter by parameter. The model
//! has no batch-norm statistics that would need recomputing afterwards.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use crate::model::MoeModel;

/// The running average of a model's weights (no autodiff), updated after each optimiser step.
pub struct WeightAverage {
    model: MoeModel,
    decay: f64,
    updates: u64,
}

impl WeightAverage {
    /// Starts the average at `model`'s weights. `decay` is the weight of the old average at
    /// each step, in (0, 1).
    pub fn new(model: MoeModel, decay: f64) -> Self {
        Self { model, decay, updates: 0 }
    }

    /// Blends `current` (the same architecture, no autodiff) into the average. Early on the
    /// decay is lowered to (1 + n) / (10 + n), as TensorFlow's moving averages do, so the
    /// random initial weights are forgotten within the first epoch.
    pub fn update(&mut self, current: &MoeModel) {
        self.updates += 1;
        let n = self.updates as f64;
        let decay = self.decay.min((1.0 + n) / (10.0 + n));
        let mut collect = Collect::default();
        current.visit(&mut collect);
        let mut blend = Blend { current: collect.0, decay };
        // `current` is `valid()` of the model this average was cloned from: the same ids.
        self.model = self.model.clone().map(&mut blend);
    }

    /// The averaged model.
    pub fn model(&self) -> &MoeModel {
        &self.model
    }
}

/// Every float parameter of a model, flattened, by id.
#[derive(Default)]
struct Collect(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        self.0.insert(param.id, value.reshape([n]));
    }
}

/// Replaces each parameter `a` of the average by `decay·a + (1 − decay)·current`.
struct Blend {
    current: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(current) = self.current.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|avg| {
            let shape = avg.shape();
            avg * decay + current.reshape(shape) * (1.0 - decay)
        })
    }
}
