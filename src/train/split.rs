//! Train/validation/test splits, always over de-duplicated rows.

use std::collections::{BTreeMap, HashSet};

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

    /// The kind `name` wrote (as a bundle's manifest records it).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "random" => Some(SplitKind::Random),
            "time" => Some(SplitKind::Time),
            _ => name.strip_prefix("family:").and_then(AttackFamily::from_name).map(SplitKind::Family),
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
    #[error("--test-file '{0}' matches none of the input files")]
    NoSuchTestFile(String),
}

const VALID_SHARE: f64 = 0.15;
const TEST_SHARE: f64 = 0.15;

/// Splits `table` as `kind` says, after removing exact duplicate rows.
///
/// `test_files` keeps whole source files out of training: every row of a file whose path ends
/// with one of them goes to the test set (a day or a network never seen, for cross-source
/// evaluation). Rows of unknown attack family (binarised labels) can teach the model nothing
/// about families, so they are always test rows. Random and family splits stratify per source
/// file and family, so every file of a multi-source training set is represented in each part.
pub fn split(table: &FlowTable, kind: SplitKind, test_files: &[String], seed: u64) -> Result<Split, SplitError> {
    let families = table.families().ok_or(SplitError::Unlabelled)?;
    let held_sources = held_out_sources(table, test_files)?;
    let unique = table.unique_rows();
    let duplicates_removed = table.len() - unique.len();
    let meta = table.meta();
    let (held, unique): (Vec<usize>, Vec<usize>) =
        unique.iter().partition(|&&i| held_sources.contains(&meta[i].source) || !families[i].is_class());
    let strata: Vec<(u32, AttackFamily)> = (0..table.len()).map(|i| (meta[i].source, families[i])).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = match kind {
        SplitKind::Random => {
            let (rest, test) = stratified(&unique, &strata, TEST_SHARE, &mut rng);
            let (train, valid) = stratified(&rest, &strata, VALID_SHARE / (1.0 - TEST_SHARE), &mut rng);
            Split { train, valid, test, duplicates_removed }
        }
        SplitKind::Time => {
            let missing = unique.iter().filter(|&&i| meta[i].weekday().is_none()).count();
            if missing > 0 {
                return Err(SplitError::NoTimestamps(missing));
            }
            // Monday = 0 ... Wednesday = 2; the weekend never occurs in CICIDS2017.
            let (early, late): (Vec<usize>, Vec<usize>) =
                unique.iter().partition(|&&i| meta[i].weekday().is_some_and(|d| d <= 2));
            let (train, valid) = stratified(&early, &strata, VALID_SHARE, &mut rng);
            Split { train, valid, test: late, duplicates_removed }
        }
        SplitKind::Family(held_out) => {
            let (unseen, seen): (Vec<usize>, Vec<usize>) = unique.iter().partition(|&&i| families[i] == held_out);
            let (rest, mut test) = stratified(&seen, &strata, TEST_SHARE, &mut rng);
            let (train, valid) = stratified(&rest, &strata, VALID_SHARE / (1.0 - TEST_SHARE), &mut rng);
            test.extend(unseen);
            Split { train, valid, test, duplicates_removed }
        }
    };
    out.test.extend(held);
    out.test.sort_unstable();
    for (rows, what) in [(&out.train, "training"), (&out.valid, "validation"), (&out.test, "test")] {
        if rows.is_empty() {
            return Err(SplitError::Empty(kind.name(), what));
        }
    }
    out.train.shuffle(&mut rng);
    Ok(out)
}

/// Indices of the sources named by `test_files` (whole trailing path components of a file or of
/// its folder: a file name, a data folder such as `lab-captures-heldout`, or
/// `unb-live/2017-12-15_online.csv`). A name that matches no source is an error: a typo must
/// not silently turn a cross-source test into a random one.
fn held_out_sources(table: &FlowTable, test_files: &[String]) -> Result<HashSet<u32>, SplitError> {
    let mut held = HashSet::new();
    for name in test_files {
        let matching: Vec<u32> = table
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.path.ends_with(name) || s.path.parent().is_some_and(|folder| folder.ends_with(name)))
            .map(|(i, _)| i as u32)
            .collect();
        if matching.is_empty() {
            return Err(SplitError::NoSuchTestFile(name.clone()));
        }
        held.extend(matching);
    }
    Ok(held)
}

/// Per stratum (source file and family), moves `share` of `rows` (at least one row when a
/// stratum has two or more) to the second output. Deterministic for a given seed.
fn stratified(
    rows: &[usize],
    strata: &[(u32, AttackFamily)],
    share: f64,
    rng: &mut StdRng,
) -> (Vec<usize>, Vec<usize>) {
    let mut groups: BTreeMap<(u32, AttackFamily), Vec<usize>> = BTreeMap::new();
    for &i in rows {
        groups.entry(strata[i]).or_default().push(i);
    }
    let mut keep = Vec::new();
    let mut take = Vec::new();
    for mut group in groups.into_values() {
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
