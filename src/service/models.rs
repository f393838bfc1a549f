//! Models as whole tasks: load a bundle for scoring, register one in the history, activate
//! one, and resolve which model a session starts with. The window, the command line and the
//! server all come here, so "the active model" means the same thing everywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::model::{DeviceChoice, ExpertSpec, Manifest, Preprocessor, Scorer};
use crate::store::{CalibrationRecord, ModelRecord, Store};

/// A model ready to score: its scorer and what the analyst is told about it.
#[derive(Clone)]
pub struct LoadedModel {
    /// Registry name ("default", or what training named it).
    pub name: String,
    pub dir: PathBuf,
    pub scorer: Arc<Scorer>,
    pub preprocessor: Preprocessor,
    /// "cpu (fused)" or the GPU adapter's name.
    pub backend: String,
    /// The NetVigil version that wrote the bundle.
    pub version: String,
    /// Provenance, including the flow semantics it was trained on.
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`, which pins every file of the bundle by hash.
    pub sha256: String,
    /// The experts of the mixture in gate order, from the bundle's config.
    pub experts: Vec<ExpertSpec>,
    /// Metrics written by training.
    pub metrics: serde_json::Value,
    /// P(attack) at which a flow is an attack: the model's own (chosen in training), or its
    /// calibration's.
    pub threshold: f32,
    /// The active calibration on the analyst's known-good traffic, when there is one.
    pub calibration: Option<CalibrationRecord>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("backend", &self.backend)
            .finish()
    }
}

/// Loads the bundle in `dir` onto `device` (checking every file's hash), with the model's own
/// threshold.
pub fn load(name: &str, dir: &Path, device: DeviceChoice) -> anyhow::Result<LoadedModel> {
    load_with(name, dir, device, None)
}

/// Loads the bundle and applies the active calibration the history in `data_dir` holds for
/// the model named `name`: how every front end loads a model.
pub fn load_calibrated(data_dir: &Path, name: &str, dir: &Path, device: DeviceChoice) -> anyhow::Result<LoadedModel> {
    let calibration = Store::open(data_dir)?.active_calibration(name)?;
    load_with(name, dir, device, calibration)
}

fn load_with(
    name: &str,
    dir: &Path,
    device: DeviceChoice,
    calibration: Option<CalibrationRecord>,
) -> anyhow::Result<LoadedModel> {
    let (mut scorer, bundle, selected) =
        Scorer::load(dir, device).with_context(|| format!("model bundle {}", dir.display()))?;
    if let Some(c) = &calibration {
        scorer.threshold = c.threshold;
    }
    let sha256 = crate::ingest::hash::sha256_file(&dir.join("manifest.json"))?;
    let threshold = scorer.threshold;
    Ok(LoadedModel {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        scorer: Arc::new(scorer),
        preprocessor: bundle.preprocessor.clone(),
        backend: selected.description.clone(),
        version: bundle.manifest.netvigil_version.clone(),
        experts: bundle.config.expert_specs(),
        metrics: bundle.metrics.clone(),
        manifest: bundle.manifest,
        sha256,
        threshold,
        calibration,
    })
}

/// Registers the complete bundle in `dir` under `name` (call only once it is in place).
pub fn register(
    store: &mut Store,
    name: &str,
    dir: &Path,
    run_id: Option<i64>,
    metrics: &serde_json::Value,
) -> anyhow::Result<i64> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("model bundle {}", dir.display()))?;
    let sha = crate::ingest::hash::sha256_file(&dir.join("manifest.json"))?;
    Ok(store.register_model(name, &dir, &sha, run_id, &metrics.to_string())?)
}

/// Makes `name` the active model of the history in `data_dir`; returns its record.
pub fn activate(data_dir: &Path, name: &str) -> anyhow::Result<ModelRecord> {
    let record = Store::open(data_dir)?.activate_model(name)?;
    anyhow::ensure!(record.present, "model '{name}' is registered, but its bundle {} is gone", record.bundle_path);
    Ok(record)
}

/// Where the shipped default model lives: `$NETVIGIL_DEFAULT_MODEL`, an installed package or
/// tarball beside the binary, the source checkout it
/// was built from, or `models/default` under the current folder.
pub fn default_model_dir() -> Option<PathBuf> {
    // Beside the binary first: `/usr/bin` -> `/usr/share/netvigil` for the .deb, `bin/` ->
    // `share/netvigil` inside the relocatable tarball (packaging/build.sh), wherever unpacked.
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|prefix| prefix.join("share/netvigil/models/default")));
    let candidates = [
        std::env::var_os("NETVIGIL_DEFAULT_MODEL").map(PathBuf::from),
        installed,
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default")),
        Some(PathBuf::from("models/default")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("manifest.json").is_file())
}

/// The model a session starts with: the history's active model, else the shipped default
/// (registered as "default" on first use). `None` when there is neither.
pub fn startup(data_dir: &Path) -> anyhow::Result<Option<(String, PathBuf)>> {
    let mut store = Store::open(data_dir)?;
    if let Some(m) = store.active_model()?.filter(|m| m.present) {
        return Ok(Some((m.name, PathBuf::from(m.bundle_path))));
    }
    let Some(dir) = default_model_dir() else { return Ok(None) };
    register(&mut store, "default", &dir, None, &serde_json::json!({}))?;
    Ok(Some(("default".into(), dir)))
}

/// What `--model M` names: a bundle folder (a path holding `manifest.json`), else a model of
/// the registry by name; without `--model`, the start-up model.
pub fn resolve(data_dir: &Path, spec: Option<&str>) -> anyhow::Result<(String, PathBuf)> {
    let Some(spec) = spec else {
        return startup(data_dir)?.context("no model: train one, or pass --model with a bundle folder");
    };
    let path = Path::new(spec);
    if path.join("manifest.json").is_file() {
        let name = path.file_name().map_or_else(|| spec.to_string(), |n| n.to_string_lossy().into_owned());
        return Ok((name, path.to_path_buf()));
    }
    match Store::open(data_dir)?.model(spec)? {
        Some(m) => Ok((m.name, PathBuf::from(m.bundle_path))),
        None if path.exists() => anyhow::bail!("{spec}: not a model bundle (no manifest.json in it)"),
        None => anyhow::bail!("{spec}: neither a model bundle folder nor a model in the registry"),
    }
}

/// Resolves and loads in one step.
pub fn resolve_and_load(data_dir: &Path, spec: Option<&str>, device: DeviceChoice) -> anyhow::Result<LoadedModel> {
    let (name, dir) = resolve(data_dir, spec)?;
    load_calibrated(data_dir, &name, &dir, device)
}
