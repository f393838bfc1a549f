//! Preprocessed training data and the batches fed to the model.

use burn::tensor::{Device, Tensor, TensorData};

use crate::features::N_FEATURES;
use crate::ingest::label::AttackFamily;
use crate::ingest::table::FlowTable;
use crate::model::Preprocessor;

/// Preprocessed rows and their families.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Row-major `N×72`, already preprocessed.
    pub x: Vec<f32>,
    pub y: Vec<AttackFamily>,
    /// Per row, the data folder (network, release, tool) its file came from: an index into
    /// the folders of the table, used to balance sources in the loss.
    pub origin: Vec<u32>,
}

impl Dataset {
    /// Selects `rows` of a labelled table and preprocesses them. Rows without labels yield an
    /// empty target list, which callers reject before training.
    pub fn from_table(table: &FlowTable, rows: &[usize], preprocessor: &Preprocessor) -> Self {
        let families = table.families().unwrap_or_default();
        let mut raw = Vec::with_capacity(rows.len() * N_FEATURES);
        for &r in rows {
            raw.extend_from_slice(table.row(r));
        }
        let folders = source_folders(table);
        Self {
            x: preprocessor.transform(&raw),
            y: rows.iter().filter_map(|&r| families.get(r).copied()).collect(),
            origin: rows.iter().map(|&r| folders[table.meta()[r].source as usize]).collect(),
        }
    }

    /// Per-row loss weights that give every data folder an equal share of its family's
    /// weight, softened by `power` (0: plain rows, 1: fully equal shares). Without it, a
    /// family's few rows from another release or network are outvoted by the many of the main
    /// sample, and the model learns that sample's artefacts instead of the attack.
    pub fn source_balance(&self, power: f64) -> Vec<f32> {
        if power == 0.0 {
            return vec![1.0; self.len()];
        }
        let mut strata: std::collections::HashMap<(u32, AttackFamily), usize> = Default::default();
        for (&o, &f) in self.origin.iter().zip(&self.y) {
            *strata.entry((o, f)).or_default() += 1;
        }
        let mut family_rows: std::collections::HashMap<AttackFamily, (usize, usize)> = Default::default();
        for (&(_, f), &n) in &strata {
            let e = family_rows.entry(f).or_default();
            e.0 += n;
            e.1 += 1;
        }
        self.origin
            .iter()
            .zip(&self.y)
            .map(|(&o, &f)| {
                let (rows, folders) = family_rows[&f];
                let fair_share = rows as f64 / folders as f64;
                (fair_share / strata[&(o, f)] as f64).powf(power) as f32
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn family_counts(&self) -> [usize; AttackFamily::N_CLASSES] {
        let mut counts = [0; AttackFamily::N_CLASSES];
        // Rows of unknown family (binarised labels) are no class; the split keeps them out of
        // training, and here they are simply not counted.
        for f in self.y.iter().filter(|f| f.is_class()) {
            counts[f.index()] += 1;
        }
        counts
    }
}

/// One mini-batch on the training device.
pub struct Batch {
    pub x: Tensor<2>,
    /// `[batch, classes]`: the class weight at each row's true class, 0 elsewhere. Multiplying
    /// it with log-probabilities gives the weighted cross-entropy without an integer gather.
    pub target_weights: Tensor<2>,
    /// Sum of `target_weights`, the loss normaliser.
    pub weight_sum: f64,
}

impl Batch {
    /// `row_weights` multiply the class weights per row (see [`Dataset::source_balance`]).
    pub fn new(
        data: &Dataset,
        rows: &[usize],
        class_weights: &[f32; AttackFamily::N_CLASSES],
        row_weights: &[f32],
        device: &Device,
    ) -> Self {
        let n = rows.len();
        let mut x = Vec::with_capacity(n * N_FEATURES);
        let mut t = vec![0f32; n * AttackFamily::N_CLASSES];
        let mut weight_sum = 0f64;
        for (i, &r) in rows.iter().enumerate() {
            x.extend_from_slice(&data.x[r * N_FEATURES..(r + 1) * N_FEATURES]);
            let c = data.y[r].index();
            let w = class_weights[c] * row_weights.get(r).copied().unwrap_or(1.0);
            t[i * AttackFamily::N_CLASSES + c] = w;
            weight_sum += w as f64;
        }
        Self {
            x: Tensor::from_data(TensorData::new(x, [n, N_FEATURES]), device),
            target_weights: Tensor::from_data(TensorData::new(t, [n, AttackFamily::N_CLASSES]), device),
            weight_sum,
        }
    }
}

/// Class weights `(largest count / count)^power`: `power` 0 is unweighted, 1 fully balanced.
/// Families absent from training get weight 0 (they contribute nothing anyway).
pub fn class_weights(counts: &[usize; AttackFamily::N_CLASSES], power: f64) -> [f32; AttackFamily::N_CLASSES] {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut w = [0f32; AttackFamily::N_CLASSES];
    for (wi, &c) in w.iter_mut().zip(counts) {
        if c > 0 {
            *wi = (max / c as f64).powf(power) as f32;
        }
    }
    w
}

/// Index of each source file's data folder (`SourceFile::folder_name`), in first-seen order.
fn source_folders(table: &FlowTable) -> Vec<u32> {
    folders(table).1
}

/// The data folders of `table`'s source files in first-seen order (what [`Dataset::origin`]
/// indexes), and each source file's index into them.
pub fn folders(table: &FlowTable) -> (Vec<String>, Vec<u32>) {
    let mut names: Vec<String> = Vec::new();
    let of_source = table
        .sources
        .iter()
        .map(|s| {
            let folder = s.folder_name();
            let i = names.iter().position(|n| *n == folder).unwrap_or_else(|| {
                names.push(folder);
                names.len() - 1
            });
            i as u32
        })
        .collect();
    (names, of_source)
}
