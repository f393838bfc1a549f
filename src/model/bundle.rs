//! The model bundle: one directory holding everything needed to score flows, data only.
//!
//! ```text
//! manifest.json    format, version, SHA-256 and size of the weights, training data provenance
//! config.json      MoeConfig (sizes), rebuilt before the weights are applied
//! weights.bpk      burnpack tensors (names, shapes, raw f32): parsed, never executed
//! weights-N.bpk    an ensemble's further members (N = 1, 2, ...), each checked like weights.bpk
//! preprocess.json  fitted preprocessing statistics
//! labels.json      output index → attack family name
//! metrics.json     training and test metrics
//! familiarity.bpk  optional: the autoencoder that marks unfamiliar flows (burnpack)
//! familiarity.json optional: its threshold, feature scales, SHA-256 and size of its weights
//! ```
//!
//! Written to a temporary sibling directory and renamed into place, so a reader sees either
//! the old bundle or the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::config::MoeConfig;
use super::familiarity::{Familiarity, FamiliarityStats};
use super::model::MoeModel;
use super::preprocess::Preprocessor;
use crate::ingest::label::AttackFamily;

pub const FORMAT: &str = "netvigil-model";
/// Version 2 bundles hold an ensemble (`Manifest::more_members`); a bundle of one model is
/// still written as version 1, so programs older than ensembles keep reading it.
pub const FORMAT_VERSION: u32 = 2;
const SINGLE_MODEL_VERSION: u32 = 1;
const WEIGHTS_FILE: &str = "weights.bpk";
const FAMILIARITY_WEIGHTS: &str = "familiarity.bpk";
const FAMILIARITY_STATS: &str = "familiarity.json";
/// Refuse metadata files beyond this size rather than read an arbitrary file into memory.
const MAX_JSON_BYTES: u64 = 16 << 20;
const MAX_WEIGHTS_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("model bundle {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("model bundle {path}: invalid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("model bundle {0}: not a NetVigil model bundle (manifest format '{1}')")]
    NotABundle(PathBuf, String),
    #[error("model bundle {0}: format version {1} is not supported (this program reads 1 to {FORMAT_VERSION})")]
    Version(PathBuf, u32),
    #[error("model bundle {path}: weights are {actual} bytes but the manifest says {expected}: truncated or replaced")]
    WeightsSize { path: PathBuf, expected: u64, actual: u64 },
    #[error(
        "model bundle {path}: weights SHA-256 is {actual} but the manifest says {expected}: the weights were modified or corrupted"
    )]
    WeightsHash { path: PathBuf, expected: String, actual: String },
    #[error("model bundle {0}: {1}")]
    Invalid(PathBuf, String),
    #[error("model bundle {0}: weights do not fit the configuration: {1}")]
    Record(PathBuf, String),
    #[error("refusing to replace {0}: it exists and is not a model bundle")]
    WouldClobber(PathBuf),
}

/// One input file the model was trained on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataFile {
    pub name: String,
    pub rows: usize,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub netvigil_version: String,
    pub weights_file: String,
    pub weights_sha256: String,
    pub weights_bytes: u64,
    pub training_data: Vec<DataFile>,
    /// How the data was split, e.g. "random".
    pub split: String,
    pub seed: u64,
    pub created_unix: u64,
    /// The flow semantics of the training data: one model serves every semantics listed.
    /// Empty in bundles older than this field.
    #[serde(default)]
    pub semantics: Vec<crate::ingest::dialect::FlowSemantics>,
    /// An ensemble's members after the first (whose weights are `weights_file`): models of the
    /// same configuration trained on the same rows from other seeds, scored as the mean of
    /// their logits (`model::forward_mean`). Empty for a single model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_members: Vec<MemberWeights>,
}

/// One further member of an ensemble: its weights file and what it must hash to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberWeights {
    pub weights_file: String,
    pub weights_sha256: String,
    pub weights_bytes: u64,
    /// The seed its weights were drawn and trained with.
    pub seed: u64,
}

impl Manifest {
    /// What the model says of its input's semantics: which it was trained on, and a warning
    /// when the input has semantics it never saw.
    pub fn semantics_note(&self, input: &[crate::ingest::dialect::FlowSemantics]) -> String {
        if self.semantics.is_empty() {
            return "flow semantics of the training data not recorded".into();
        }
        let names: Vec<&str> = self.semantics.iter().map(|s| s.description()).collect();
        let unseen: Vec<&str> = input.iter().filter(|s| !self.semantics.contains(s)).map(|s| s.description()).collect();
        let what = match self.more_members.len() {
            0 => "one model".to_string(),
            n => format!("one ensemble of {} models (the mean of their logits)", n + 1),
        };
        let mut note = format!("{what} for flows of the {}", names.join(" and the "));
        if !unseen.is_empty() {
            note.push_str(&format!(
                "; WARNING: the input has flows of the {}, which it was not trained on",
                unseen.join(" and the ")
            ));
        }
        note
    }
}

/// A loaded (or about to be saved) model with everything needed to score flows.
#[derive(Debug, Clone)]
pub struct ModelBundle {
    pub config: MoeConfig,
    pub preprocessor: Preprocessor,
    pub manifest: Manifest,
    /// Free-form metrics as written by training (`train::TrainingReport`).
    pub metrics: serde_json::Value,
    /// The model, or an ensemble's members (never empty): scored as the mean of their logits.
    pub members: Vec<MoeModel>,
    /// Marks flows unlike the training data; `None` in bundles made before it existed.
    pub familiarity: Option<Familiarity>,
}

use crate::ingest::hash::sha256_bytes;

fn label_names() -> Vec<String> {
    AttackFamily::CLASSES.iter().map(|f| f.name().to_string()).collect()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io { path: path.to_path_buf(), source }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut file = fs::File::create(path).map_err(io_err(path))?;
    file.write_all(bytes).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), BundleError> {
    let text =
        serde_json::to_vec_pretty(value).map_err(|source| BundleError::Json { path: path.to_path_buf(), source })?;
    write_file(path, &text)
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, BundleError> {
    let len = fs::metadata(path).map_err(io_err(path))?.len();
    if len > limit {
        return Err(BundleError::Invalid(
            path.to_path_buf(),
            format!("file is {len} bytes, more than the {limit} allowed"),
        ));
    }
    fs::read(path).map_err(io_err(path))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, BundleError> {
    let bytes = read_limited(path, MAX_JSON_BYTES)?;
    serde_json::from_slice(&bytes).map_err(|source| BundleError::Json { path: path.to_path_buf(), source })
}

impl ModelBundle {
    /// P(attack) at which this model calls a flow an attack: the threshold training chose on
    /// its validation rows (`train::threshold`, in `metrics.json`), or 0.5 for a bundle
    /// trained before thresholds were chosen.
    pub fn alert_threshold(&self) -> f32 {
        alert_threshold_of(&self.metrics)
    }

    /// Writes the bundle to `dir` atomically (temporary sibling, then rename). The manifest's
    /// weight hash and size are filled in here from the bytes actually written; the manifest
    /// as written is returned.
    pub fn save(&self, dir: &Path) -> Result<Manifest, BundleError> {
        if dir.exists() && !dir.join("manifest.json").is_file() {
            let empty = fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
            if !empty {
                return Err(BundleError::WouldClobber(dir.to_path_buf()));
            }
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        let result = self.write_contents(&tmp).and_then(|m| replace_dir(&tmp, dir, &parent, &name).map(|()| m));
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn write_contents(&self, dir: &Path) -> Result<Manifest, BundleError> {
        let Some((first, rest)) = self.members.split_first() else {
            return Err(BundleError::Invalid(dir.to_path_buf(), "a bundle needs at least one model".into()));
        };
        let (sha256, bytes) = write_weights(first, &dir.join(WEIGHTS_FILE))?;
        let mut manifest = self.manifest.clone();
        manifest.format = FORMAT.into();
        manifest.format_version = if rest.is_empty() { SINGLE_MODEL_VERSION } else { FORMAT_VERSION };
        manifest.weights_file = WEIGHTS_FILE.into();
        manifest.weights_sha256 = sha256;
        manifest.weights_bytes = bytes;
        let seeds = self.member_seeds();
        manifest.more_members = Vec::with_capacity(rest.len());
        for (k, member) in rest.iter().enumerate() {
            let file = format!("weights-{}.bpk", k + 1);
            let (weights_sha256, weights_bytes) = write_weights(member, &dir.join(&file))?;
            manifest.more_members.push(MemberWeights {
                weights_file: file,
                weights_sha256,
                weights_bytes,
                seed: seeds[k + 1],
            });
        }
        write_json(&dir.join("config.json"), &self.config)?;
        write_json(&dir.join("preprocess.json"), &self.preprocessor)?;
        write_json(&dir.join("labels.json"), &label_names())?;
        write_json(&dir.join("metrics.json"), &self.metrics)?;
        if let Some(f) = &self.familiarity {
            let path = dir.join(FAMILIARITY_WEIGHTS);
            let bytes = f
                .model
                .clone()
                .into_record()
                .into_bytes()
                .map_err(|e| BundleError::Record(path.clone(), e.to_string()))?;
            write_file(&path, &bytes)?;
            let stats = FamiliarityStats {
                weights_sha256: sha256_bytes(&bytes),
                weights_bytes: bytes.len() as u64,
                ..f.stats.clone()
            };
            write_json(&dir.join(FAMILIARITY_STATS), &stats)?;
        }
        // The manifest goes last: its presence marks a complete bundle.
        write_json(&dir.join("manifest.json"), &manifest)?;
        Ok(manifest)
    }

    /// Loads and verifies a bundle, placing the model on `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, BundleError> {
        let manifest: Manifest = read_json(&dir.join("manifest.json"))?;
        if manifest.format != FORMAT {
            return Err(BundleError::NotABundle(dir.to_path_buf(), manifest.format));
        }
        if !(SINGLE_MODEL_VERSION..=FORMAT_VERSION).contains(&manifest.format_version) {
            return Err(BundleError::Version(dir.to_path_buf(), manifest.format_version));
        }
        let config: MoeConfig = read_json(&dir.join("config.json"))?;
        config.validate().map_err(|e| BundleError::Invalid(dir.join("config.json"), e))?;
        let preprocessor: Preprocessor = read_json(&dir.join("preprocess.json"))?;
        preprocessor.validate().map_err(|e| BundleError::Invalid(dir.join("preprocess.json"), e))?;
        let labels: Vec<String> = read_json(&dir.join("labels.json"))?;
        if labels != label_names() {
            return Err(BundleError::Invalid(
                dir.join("labels.json"),
                format!("label map {labels:?} differs from this program's {:?}", label_names()),
            ));
        }
        let metrics: serde_json::Value = read_json(&dir.join("metrics.json"))?;
        let mut members = vec![load_member(
            dir,
            &config,
            (&manifest.weights_file, manifest.weights_bytes, &manifest.weights_sha256),
            device,
        )?];
        for m in &manifest.more_members {
            members.push(load_member(dir, &config, (&m.weights_file, m.weights_bytes, &m.weights_sha256), device)?);
        }
        let familiarity = load_familiarity(dir, device)?;
        Ok(Self { config, preprocessor, manifest, metrics, members, familiarity })
    }

    /// The first (or only) model: the one whose sizes and gate the reports describe.
    pub fn model(&self) -> &MoeModel {
        &self.members[0]
    }

    /// The seed of each member, in order: the manifest's seed first.
    pub fn member_seeds(&self) -> Vec<u64> {
        let recorded = self.manifest.more_members.iter().map(|m| m.seed);
        let mut seeds: Vec<u64> = std::iter::once(self.manifest.seed).chain(recorded).collect();
        // Members added since the manifest was written take the next free seeds.
        while seeds.len() < self.members.len() {
            seeds.push(seeds.iter().max().map_or(0, |s| s + 1));
        }
        seeds.truncate(self.members.len());
        seeds
    }
}

/// Writes one model's weights; returns their SHA-256 and size.
fn write_weights(model: &MoeModel, path: &Path) -> Result<(String, u64), BundleError> {
    let bytes =
        model.clone().into_record().into_bytes().map_err(|e| BundleError::Record(path.to_path_buf(), e.to_string()))?;
    write_file(path, &bytes)?;
    Ok((sha256_bytes(&bytes), bytes.len() as u64))
}

/// Loads one member's weights (`file`, its size and SHA-256) into a model of `config`.
fn load_member(
    dir: &Path,
    config: &MoeConfig,
    (file, bytes, sha256): (&str, u64, &str),
    device: &Device,
) -> Result<MoeModel, BundleError> {
    // Only a bare file name: a manifest must not point outside its bundle.
    if file.contains(['/', '\\']) || file.starts_with('.') {
        return Err(BundleError::Invalid(dir.to_path_buf(), format!("weights file name '{file}' is not allowed")));
    }
    let path = dir.join(file);
    let data = read_checked(&path, bytes, sha256)?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(data))
        .map_err(|e| BundleError::Record(path.clone(), e.to_string()))?;
    // The random initial weights are replaced at once, but drawing them must not disturb a
    // training's seeded stream.
    let initial = config.init(device);
    let model = initial.try_load_record(record).map_err(|e| BundleError::Record(path, e.to_string()))?;
    Ok(model.valid())
}

/// Reads a weights file and checks it against the size and SHA-256 its metadata promise.
fn read_checked(path: &Path, expected_bytes: u64, expected_sha256: &str) -> Result<Vec<u8>, BundleError> {
    let bytes = read_limited(path, MAX_WEIGHTS_BYTES)?;
    if bytes.len() as u64 != expected_bytes {
        return Err(BundleError::WeightsSize {
            path: path.to_path_buf(),
            expected: expected_bytes,
            actual: bytes.len() as u64,
        });
    }
    let actual = sha256_bytes(&bytes);
    if !actual.eq_ignore_ascii_case(expected_sha256) {
        return Err(BundleError::WeightsHash {
            path: path.to_path_buf(),
            expected: expected_sha256.to_string(),
            actual,
        });
    }
    Ok(bytes)
}

/// The optional familiarity autoencoder: absent in older bundles, checked like the weights
/// when present.
fn load_familiarity(dir: &Path, device: &Device) -> Result<Option<Familiarity>, BundleError> {
    let stats_path = dir.join(FAMILIARITY_STATS);
    if !stats_path.is_file() {
        return Ok(None);
    }
    let stats: FamiliarityStats = read_json(&stats_path)?;
    if stats.feature_scale.len() != crate::features::N_FEATURES || !stats.threshold.is_finite() {
        return Err(BundleError::Invalid(stats_path, "familiarity statistics do not fit the 72-feature schema".into()));
    }
    let path = dir.join(FAMILIARITY_WEIGHTS);
    let bytes = read_checked(&path, stats.weights_bytes, &stats.weights_sha256)?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| BundleError::Record(path.clone(), e.to_string()))?;
    let initial = stats.config.init(device);
    let model = initial.try_load_record(record).map_err(|e| BundleError::Record(path, e.to_string()))?;
    Ok(Some(Familiarity { model, stats }))
}

/// Moves `tmp` to `dir`, replacing an existing bundle there.
fn replace_dir(tmp: &Path, dir: &Path, parent: &Path, name: &str) -> Result<(), BundleError> {
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io_err(&old))?;
        }
        fs::rename(dir, &old).map_err(io_err(dir))?;
        fs::rename(tmp, dir).map_err(io_err(dir))?;
        fs::remove_dir_all(&old).map_err(io_err(&old))
    } else {
        fs::rename(tmp, dir).map_err(io_err(dir))
    }
}

/// The alert threshold recorded in a bundle's metrics (`report.alert.threshold`), if it is a
/// probability; else 0.5.
pub fn alert_threshold_of(metrics: &serde_json::Value) -> f32 {
    metrics
        .pointer("/report/alert/threshold")
        .and_then(serde_json::Value::as_f64)
        .filter(|t| (0.0..=1.0).contains(t))
        .map_or(super::inference::ATTACK_THRESHOLD, |t| t as f32)
}

/// The alert threshold of the bundle in `dir`, read from its metrics alone (0.5 when they
/// cannot be read or hold none).
pub fn alert_threshold_in(dir: &Path) -> f32 {
    read_json::<serde_json::Value>(&dir.join("metrics.json"))
        .map_or(super::inference::ATTACK_THRESHOLD, |m| alert_threshold_of(&m))
}
