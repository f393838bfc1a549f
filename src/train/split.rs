//! Train/validation/test splits, always over de-duplicated rows.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::ingest::label::AttackFamily;
use crate::ingest::table::FlowTable;

/// How test rows are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "family")]
pub enum SplitKind {
    /// Stratified by family: 70 % train, 15 % validation, 15 % test.
    Random,
    /// Train on Monday–Wednesday captures, test on Thursday–Friday.
    Time,
    /// Every flow of one attack family goes to the test set, never seen in training.
    Family(AttackFamily),
}

impl SplitKind {
    pub fn name(&self) -> String {
        match self {
            SplitKind::Random => "random".into(),
            SplitKind::Time => "time".into(),
            SplitKind::Family(f) => format!("family:{}", f.name()),
        }
    }
}

/// Row indices into the original table.
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
    /// Rows dropped as exact duplicates before splitting.
    pub duplicates_removed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("the data has no labels; training and evaluation need a Label column")]
    Unlabelled,
    #[error("split '{0}' leaves no {1} rows")]
    Empty(String, &'static str),
    #[error("time split: {0} flows have no timestamp (this CSV dialect has no Timestamp column)")]
    NoTimestamps(usize),
}

const VALID_SHARE: f64 = 0.15;
const TEST_SHARE: f64 = 0.15;

/// Splits `table` as `kind` says, after removing exact duplicate rows.
pub fn split(table: &FlowTable, kind: SplitKind, seed: u64) -> Result<Split, SplitError> {
    let families = table.families().ok_or(SplitError::Unlabelled)?;
    let unique = table.unique_rows();
    let duplicates_removed = table.len() - unique.len();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = match kind {
        SplitKind::Random => {
            let (rest, test) = stratified(&unique, &families, TEST_SHARE, &mut rng);
            let (train, valid) = stratified(&rest, &families, VALID_SHARE / (1.0 - TEST_SHARE), &mut rng);
            Split { train, valid, test, duplicates_removed }
        }
        SplitKind::Time => {
            let meta = table.meta();
            let missing = unique.iter().filter(|&&i| meta[i].weekday().is_none()).count();
            if missing > 0 {
                return Err(SplitError::NoTimestamps(missing));
            }
            // Monday = 0 ... Wednesday = 2; the weekend never occurs in CICIDS2017.
            let (early, late): (Vec<usize>, Vec<usize>) =
                unique.iter().partition(|&&i| meta[i].weekday().is_some_and(|d| d <= 2));
            let (train, valid) = stratified(&early, &families, VALID_SHARE, &mut rng);
            Split { train, valid, test: late, duplicates_removed }
        }
        SplitKind::Family(held_out) => {
            let (unseen, seen): (Vec<usize>, Vec<usize>) = unique.iter().partition(|&&i| families[i] == held_out);
            let (rest, mut test) = stratified(&seen, &families, TEST_SHARE, &mut rng);
            let (train, valid) = stratified(&rest, &families, VALID_SHARE / (1.0 - TEST_SHARE), &mut rng);
            test.extend(unseen);
            Split { train, valid, test, duplicates_removed }
        }
    };
    for (rows, what) in [(&out.train, "training"), (&out.valid, "validation"), (&out.test, "test")] {
        if rows.is_empty() {
            return Err(SplitError::Empty(kind.name(), what));
        }
    }
    out.train.shuffle(&mut rng);
    Ok(out)
}

/// Per family, moves `share` of `rows` (at least one row when a family has two or more) to the
/// second output. Deterministic for a given seed.
fn stratified(rows: &[usize], families: &[AttackFamily], share: f64, rng: &mut StdRng) -> (Vec<usize>, Vec<usize>) {
    let mut keep = Vec::new();
    let mut take = Vec::new();
    for family in AttackFamily::ALL {
        let mut group: Vec<usize> = rows.iter().copied().filter(|&i| families[i] == family).collect();
        group.shuffle(rng);
        let mut n_take = (group.len() as f64 * share).round() as usize;
        if n_take == 0 && group.len() >= 2 {
            n_take = 1;
        }
        take.extend_from_slice(&group[..n_take]);
        keep.extend_from_slice(&group[n_take..]);
    }
    keep.sort_unstable();
    take.sort_unstable();
    (keep, take)
}
