//! All state of the window in one place: the loaded flows and their verdicts, the active
//! model, the selection, the background jobs and the messages for the analyst.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::jobs::{Job, Poll};
use crate::detect::{Findings, detect};
use crate::features::N_FEATURES;
use crate::ingest::{FlowMeta, FlowTable, ReadOptions, read_flows};
use crate::model::{DeviceChoice, Preprocessor, Scorer, Verdict};
use crate::store::Store;

/// Flows on screen, with the verdicts of the active model when it has scored them.
pub struct LoadedFlows {
    pub title: String,
    pub paths: Vec<PathBuf>,
    pub table: Arc<FlowTable>,
    pub verdicts: Option<Arc<Vec<Verdict>>>,
    /// Scans, floods and brute force across the flows (computed with the load).
    pub findings: Arc<Findings>,
    /// Scoring speed of the last batch.
    pub flows_per_s: Option<f64>,
}

/// The model that scores flows.
pub struct ActiveModel {
    pub name: String,
    pub dir: PathBuf,
    pub scorer: Arc<Scorer>,
    pub preprocessor: Preprocessor,
    /// "CPU (ndarray)" or the GPU adapter's name.
    pub backend: String,
    pub version: String,
    /// Provenance, including the flow semantics it was trained on.
    pub manifest: crate::model::Manifest,
}

/// One flow opened in the inspector: a row of the table, or a flow from elsewhere (an example,
/// a saved investigation).
#[derive(Clone)]
pub struct Subject {
    pub row: Option<usize>,
    /// The flow as read.
    pub original: [f32; N_FEATURES],
    /// The flow with the analyst's edits (equal to `original` until one is made).
    pub edited: [f32; N_FEATURES],
    pub meta: FlowMeta,
    pub label: Option<String>,
    pub origin: String,
}

/// The views of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewId {
    Flows,
    Inspector,
    WhatIf,
    Train,
    History,
}

impl ViewId {
    pub const ALL: [ViewId; 5] = [ViewId::Flows, ViewId::Inspector, ViewId::WhatIf, ViewId::Train, ViewId::History];
    pub fn title(self) -> &'static str {
        match self {
            ViewId::Flows => "Flows",
            ViewId::Inspector => "Inspector",
            ViewId::WhatIf => "What-if",
            ViewId::Train => "Train",
            ViewId::History => "History",
        }
    }
}

/// A message for the analyst: a summary line and the details on demand.
pub struct Notice {
    pub summary: String,
    pub details: Option<String>,
    pub is_error: bool,
}

pub struct AppState {
    pub runtime: tokio::runtime::Runtime,
    pub data_dir: PathBuf,
    pub view: ViewId,
    pub flows: Option<LoadedFlows>,
    pub model: Option<ActiveModel>,
    pub subject: Option<Subject>,
    pub recent: Vec<PathBuf>,
    pub notices: Vec<Notice>,
    pub load_job: Option<Job<LoadedFlows>>,
    pub model_job: Option<Job<ActiveModel>>,
    /// Bumped whenever the flows or their verdicts change, so views can refresh caches.
    pub generation: u64,
}

const RECENT_FILE: &str = "recent.json";
const MAX_RECENT: usize = 10;

impl AppState {
    pub fn new(data_dir: PathBuf) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(4)
            .thread_name("netvigil-job")
            .build()
            .expect("the tokio runtime starts (threads are available)");
        let recent = std::fs::read(data_dir.join(RECENT_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        AppState {
            runtime,
            data_dir,
            view: ViewId::Flows,
            flows: None,
            model: None,
            subject: None,
            recent,
            notices: Vec::new(),
            load_job: None,
            model_job: None,
            generation: 0,
        }
    }

    pub fn error(&mut self, summary: impl Into<String>, details: impl Into<String>) {
        self.notices.push(Notice { summary: summary.into(), details: Some(details.into()), is_error: true });
    }

    pub fn info(&mut self, summary: impl Into<String>) {
        self.notices.push(Notice { summary: summary.into(), details: None, is_error: false });
    }

    pub fn store(&self) -> Result<Store, String> {
        Store::open(&self.data_dir).map_err(|e| e.to_string())
    }

    /// Reads `paths` (and scores them with the active model) in the background.
    pub fn open(&mut self, paths: Vec<PathBuf>, ctx: &egui::Context) {
        if paths.is_empty() {
            return;
        }
        self.remember_recent(&paths);
        let scorer = self.model.as_ref().map(|m| (m.scorer.clone(), m.name.clone()));
        let data_dir = self.data_dir.clone();
        let title = paths.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", ");
        self.load_job = Some(Job::spawn(&self.runtime, ctx, format!("Reading {title}"), move |job| {
            job.progress("reading".to_string());
            let table = read_flows(&paths, &ReadOptions::default()).map_err(|e| e.to_string())?;
            job.progress(format!("looking for scans, floods and brute force in {} flows", table.len()));
            let findings = Arc::new(detect(&table));
            let mut loaded =
                LoadedFlows { title, paths, table: Arc::new(table), verdicts: None, findings, flows_per_s: None };
            if let Some((scorer, model_name)) = scorer {
                job.progress(format!("scoring {} flows", loaded.table.len()));
                score_into(&mut loaded, &scorer, &model_name, &data_dir);
            }
            Ok(loaded)
        }));
    }

    /// Loads a model bundle in the background; it replaces the active model when ready.
    pub fn load_model(&mut self, name: String, dir: PathBuf, ctx: &egui::Context) {
        self.model_job = Some(Job::spawn(&self.runtime, ctx, format!("Loading model {name}"), move |_| {
            load_model(name, dir)
        }));
    }

    /// Polls the background jobs; called once per frame.
    pub fn poll_jobs(&mut self) {
        if let Some(job) = &self.load_job {
            if let Poll::Done(_, result) = job.poll() {
                self.load_job = None;
                match result {
                    Ok(loaded) => {
                        self.flows = Some(loaded);
                        self.subject = None;
                        self.generation += 1;
                    }
                    Err(e) => self.error("The file could not be opened", e),
                }
            }
        }
        if let Some(job) = &self.model_job {
            if let Poll::Done(_, result) = job.poll() {
                self.model_job = None;
                match result {
                    Ok(model) => self.activate(model),
                    Err(e) => self.error("The model could not be loaded", e),
                }
            }
        }
    }

    /// Makes `model` active and re-scores the flows on screen with it.
    fn activate(&mut self, model: ActiveModel) {
        self.model = Some(model);
        if let (Some(flows), Some(model)) = (&mut self.flows, &self.model) {
            score_into(flows, &model.scorer, &model.name, &self.data_dir);
            self.generation += 1;
        }
    }

    /// The verdict of the active model for row `r` of the flows on screen.
    pub fn verdict(&self, r: usize) -> Option<Verdict> {
        self.flows.as_ref()?.verdicts.as_ref()?.get(r).copied()
    }

    /// Opens row `r` of the flows on screen in the inspector.
    pub fn select_row(&mut self, r: usize) {
        let Some(flows) = &self.flows else { return };
        if r >= flows.table.len() {
            return;
        }
        let mut features = [0.0; N_FEATURES];
        features.copy_from_slice(flows.table.row(r));
        let label = flows.table.labels().map(|l| l[r].raw.to_string());
        self.subject = Some(Subject {
            row: Some(r),
            original: features,
            edited: features,
            meta: flows.table.meta()[r].clone(),
            label,
            origin: flows.title.clone(),
        });
    }

    fn remember_recent(&mut self, paths: &[PathBuf]) {
        for p in paths {
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            self.recent.retain(|r| r != &p);
            self.recent.insert(0, p);
        }
        self.recent.truncate(MAX_RECENT);
        if let Ok(json) = serde_json::to_vec_pretty(&self.recent) {
            let path = self.data_dir.join(RECENT_FILE);
            let _ = std::fs::create_dir_all(&self.data_dir);
            let _ = crate::ingest::export::write_atomically(&path, |w| std::io::Write::write_all(w, &json));
        }
    }
}

/// Scores every flow of `loaded` and records the batch in the history.
fn score_into(loaded: &mut LoadedFlows, scorer: &Scorer, model_name: &str, data_dir: &Path) {
    let start = Instant::now();
    let verdicts = scorer.score_table(&loaded.table);
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    loaded.flows_per_s = Some(loaded.table.len() as f64 / seconds);
    if let Ok(mut store) = Store::open(data_dir) {
        let input = loaded.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n");
        let _ = store.record_scored_batch(&input, model_name, &loaded.table, &verdicts, seconds);
    }
    loaded.verdicts = Some(Arc::new(verdicts));
}

fn load_model(name: String, dir: PathBuf) -> Result<ActiveModel, String> {
    let (scorer, bundle, selected) = Scorer::load(&dir, DeviceChoice::Auto).map_err(|e| format!("{e:#}"))?;
    Ok(ActiveModel {
        name,
        dir,
        scorer: Arc::new(scorer),
        preprocessor: bundle.preprocessor.clone(),
        backend: selected.description.clone(),
        version: bundle.manifest.netvigil_version.clone(),
        manifest: bundle.manifest.clone(),
    })
}

pub fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}
