//! All state of the window in one place: the loaded flows and their verdicts, the active
//! model, the selection, the background jobs and the messages for the analyst.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::jobs::Job;
use super::pending::Pending;
use crate::detect::{Findings, detect};
use crate::features::N_FEATURES;
use crate::ingest::{FlowMeta, FlowTable, ReadOptions};
use crate::model::drift::DriftReport;
use crate::model::{BriefVerdict, DeviceChoice};
use crate::service::scored_reading::ScoredAlong;
use crate::service::server::{RunningService, ServerLauncher};
use crate::service::traffic::{PivotFilter, TimeRange, Traffic};
use crate::service::{self, LoadedModel, Progress};
use crate::store::Store;

/// Flows on screen, with the verdicts of the active model when it has scored them.
pub struct LoadedFlows {
    pub title: String,
    pub paths: Vec<PathBuf>,
    pub table: Arc<FlowTable>,
    pub verdicts: Option<Arc<Vec<BriefVerdict>>>,
    /// Scans, floods and brute force across the flows (computed with the load).
    pub findings: Arc<Findings>,
    /// Scoring speed of the last batch.
    pub flows_per_s: Option<f64>,
    /// How far the flows are from the active model's training data (with the verdicts).
    pub drift: Option<Arc<DriftReport>>,
    /// Why only part of the files was read (the analyst cancelled), if so.
    pub stopped: Option<String>,
    /// The flows so far of files still being read (replaced by the whole when done).
    pub partial: bool,
    /// Verdicts computed while the files were read (captures), taken by the scoring that
    /// records them.
    pub scored_along: Option<ScoredAlong>,
}

/// When a capture being read first shows its flows so far (once: scoring a preview of every
/// flow again and again would slow the reading it waits for), and how many of them: the
/// first flows by start time, as many as the CPU scores in about a second.
const SHOW_FLOWS_AFTER: std::time::Duration = std::time::Duration::from_millis(250);
const SHOW_FLOWS_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
const SHOW_FLOWS_AT_MOST: usize = 10_000;

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
    /// What else is known of the flow beyond its features: the findings it is part of and
    /// what its packets' HTTP said (captures), one phrase each.
    pub evidence: Vec<String>,
}

/// A place the analyst pivoted to: a view, and what the flows table is narrowed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub view: &'static str,
    pub pivot: Option<PivotFilter>,
    pub time_range: Option<TimeRange>,
}

/// Back and Forward through the pivots, as a browser goes through pages.
#[derive(Debug, Default)]
pub struct Trail {
    places: Vec<Place>,
    pos: usize,
}

impl Trail {
    pub fn can_go_back(&self) -> bool {
        self.pos > 0
    }

    pub fn can_go_forward(&self) -> bool {
        self.pos + 1 < self.places.len()
    }

    /// Leaves `from` (where the analyst is now) for `to`; the forward places are dropped.
    fn push(&mut self, from: Place, to: Place) {
        if self.places.is_empty() {
            self.places.push(from);
        } else {
            self.places.truncate(self.pos + 1);
            // The analyst may have changed views since arriving here: come back to that one.
            self.places[self.pos] = from;
        }
        self.places.push(to);
        self.pos = self.places.len() - 1;
    }

    fn step(&mut self, from: Place, forward: bool) -> Option<Place> {
        let next = if forward { self.pos + 1 } else { self.pos.checked_sub(1)? };
        let place = self.places.get(next)?.clone();
        self.places[self.pos] = from;
        self.pos = next;
        Some(place)
    }

    fn clear(&mut self) {
        self.places.clear();
        self.pos = 0;
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
    /// The visible view, by its name (`View::name`).
    pub view: &'static str,
    /// What a pivot narrowed the flows table to (a conversation, an address, a port).
    pub pivot: Option<PivotFilter>,
    /// The span dragged on the timeline: every view shows only flows started in it.
    pub time_range: Option<TimeRange>,
    /// Back and Forward through the pivots.
    pub trail: Trail,
    /// Conversations and endpoints of the flows on screen, by generation.
    traffic: Pending<(u64, Option<TimeRange>), Arc<Traffic>>,
    pub flows: Option<LoadedFlows>,
    pub model: Option<LoadedModel>,
    pub subject: Option<Subject>,
    pub recent: Vec<PathBuf>,
    pub notices: Vec<Notice>,
    pub load_job: Option<Job<LoadedFlows, Progress>>,
    /// The flows so far of the files `load_job` reads.
    partial_flows: Option<std::sync::mpsc::Receiver<LoadedFlows>>,
    pub model_job: Option<Job<LoadedModel, Progress>>,
    /// Scores the flows on screen with the active model (after opening a file, or after
    /// another model became active).
    pub score_job: Option<Job<ScoredFlows, Progress>>,
    /// The analyst's labels of rows of the flows on screen (cleared with a new load).
    pub labels: std::collections::BTreeMap<u32, crate::ingest::AttackFamily>,
    /// Labelled files the Train view should fine-tune the active model on.
    pub finetune_request: Option<Vec<PathBuf>>,
    /// Calibrates the active model on known-good traffic.
    pub calibration_job: Option<Job<crate::store::CalibrationRecord, Progress>>,
    /// Writes the packets behind flows on screen to pcaps (see `packets`).
    pub packets_job: Option<Job<service::packets::CarvedPackets, Progress>>,
    /// Writes the flows shown to a file (see `export`).
    pub export_job: Option<Job<(PathBuf, usize), Progress>>,
    /// The file exported last.
    pub exported: Option<PathBuf>,
    /// An export waiting in NetVigil's save dialog.
    pub pending_save: Option<super::export::PendingSave>,
    /// Files opened while the model was still loading: opened once it is (a capture's flows
    /// are then scored while it is read instead of after).
    pending_open: Option<(Vec<PathBuf>, ReadOptions)>,
    /// The pcaps written last, for "Open in Wireshark".
    pub carved: Vec<PathBuf>,
    /// The latest progress line of a running job.
    pub activity: Option<String>,
    /// Starts the scoring server (handed in by the binary).
    pub launcher: Option<Arc<dyn ServerLauncher>>,
    /// The scoring server, while it runs.
    pub server: Option<Box<dyn RunningService>>,
    /// Where the Server menu starts it (loopback on the documented port).
    pub server_bind: std::net::SocketAddr,
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
            view: super::FlowsView::NAME,
            pivot: None,
            time_range: None,
            trail: Trail::default(),
            traffic: Pending::default(),
            flows: None,
            model: None,
            subject: None,
            recent,
            notices: Vec::new(),
            load_job: None,
            partial_flows: None,
            model_job: None,
            score_job: None,
            calibration_job: None,
            packets_job: None,
            export_job: None,
            exported: None,
            pending_save: None,
            pending_open: None,
            carved: Vec::new(),
            labels: Default::default(),
            finetune_request: None,
            activity: None,
            launcher: None,
            server: None,
            server_bind: std::net::SocketAddr::from(([127, 0, 0, 1], super::DEFAULT_SERVER_PORT)),
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

    /// Reads `paths` in the background; once read, the active model scores them (another job).
    pub fn open(&mut self, paths: Vec<PathBuf>, ctx: &egui::Context) {
        // The window scores: a file whose labels NetVigil does not know is shown without them.
        self.open_with(paths, ReadOptions { labels_if_known: true, ..ReadOptions::default() }, ctx);
    }

    /// [`AppState::open`] with reading options (`bench-gui`'s `--compat` and the like).
    pub fn open_with(&mut self, paths: Vec<PathBuf>, read: ReadOptions, ctx: &egui::Context) {
        if paths.is_empty() {
            return;
        }
        if self.model.is_none() && self.model_job.is_some() {
            self.pending_open = Some((paths, read));
            return;
        }
        self.remember_recent(&paths);
        let title = paths.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", ");
        // A long capture shows its first flows, scored, about a second after opening, while
        // the rest is read.
        let (partial_tx, partial_rx) = std::sync::mpsc::channel::<LoadedFlows>();
        self.partial_flows = Some(partial_rx);
        // A capture's flows are scored as they finish, while the rest is read.
        let model = self.model.clone();
        self.load_job = Some(Job::spawn(&self.runtime, ctx, format!("Reading {title}"), move |job| {
            let (partial_title, partial_paths) = (format!("{title} (still being read)"), paths.clone());
            let sink = move |table: FlowTable| {
                let first: Vec<usize> = (0..table.len().min(SHOW_FLOWS_AT_MOST)).collect();
                let table = if first.len() < table.len() { table.select(&first) } else { table };
                let findings = Arc::new(detect(&table));
                let flows = LoadedFlows {
                    title: partial_title.clone(),
                    paths: partial_paths.clone(),
                    table: Arc::new(table),
                    verdicts: None,
                    findings,
                    flows_per_s: None,
                    drift: None,
                    stopped: None,
                    partial: true,
                    scored_along: None,
                };
                // The window may have gone on to other files: nobody waits for this one then.
                let _ = partial_tx.send(flows);
            };
            let show = service::reading::ShowFlows { after: SHOW_FLOWS_AFTER, every: SHOW_FLOWS_EVERY, sink: &sink };
            // Cancel keeps what was read: the flows of the files and packets read so far.
            let (outcome, scored_along) = job
                .run_task(|task| match &model {
                    Some(model) => service::scored_reading::read_scoring(&paths, &read, model, task, Some(&show)),
                    None => service::reading::read_keeping(&paths, &read, task, Some(&show)).map(|o| (o, None)),
                })
                .map_err(|e| format!("{e:#}"))?;
            let table = outcome.table;
            if table.is_empty() {
                return Err(outcome.stopped.unwrap_or_else(|| "no flows in these files".into()));
            }
            job.progress(Progress::stage(format!(
                "looking for scans, floods and brute force in {} flows",
                table.len()
            )));
            let findings = Arc::new(detect(&table));
            // Verdicts computed while reading are shown at once; recording them follows.
            let verdicts =
                scored_along.as_ref().map(|a| Arc::new(a.verdicts.iter().map(BriefVerdict::from).collect::<Vec<_>>()));
            let flows_per_s = scored_along.as_ref().map(|a| a.verdicts.len() as f64 / a.seconds.max(1e-9));
            Ok(LoadedFlows {
                title,
                paths,
                table: Arc::new(table),
                verdicts,
                findings,
                flows_per_s,
                drift: None,
                stopped: outcome.stopped,
                partial: false,
                scored_along,
            })
        }));
    }

    /// Loads a model bundle in the background; it becomes the active model when ready.
    pub fn load_model(&mut self, name: String, dir: PathBuf, ctx: &egui::Context) {
        let data_dir = self.data_dir.clone();
        self.model_job = Some(Job::spawn(&self.runtime, ctx, format!("Loading model {name}"), move |job| {
            job.progress(Progress::stage(format!("loading model {name}")));
            service::models::load_calibrated(&data_dir, &name, &dir, DeviceChoice::Auto).map_err(|e| format!("{e:#}"))
        }));
    }

    /// Resolves the start-up model (the history's active model, else the shipped default)
    /// and loads it, all in the background.
    pub fn load_startup_model(&mut self, ctx: &egui::Context) {
        let data_dir = self.data_dir.clone();
        self.model_job = Some(Job::spawn(&self.runtime, ctx, "Loading the start-up model", move |job| {
            job.progress(Progress::stage("looking for the active model"));
            let Some((name, dir)) = service::models::startup(&data_dir).map_err(|e| format!("{e:#}"))? else {
                return Err("No model found: train one in the Train view.".to_string());
            };
            job.progress(Progress::stage(format!("loading model {name}")));
            service::models::load_calibrated(&data_dir, &name, &dir, DeviceChoice::Auto).map_err(|e| format!("{e:#}"))
        }));
    }

    /// Makes `name` the active model in the history and loads it.
    pub fn activate_model(&mut self, name: String, dir: PathBuf, ctx: &egui::Context) {
        match service::models::activate(&self.data_dir, &name) {
            Ok(_) => self.load_model(name, dir, ctx),
            Err(e) => self.error("The model could not be activated", format!("{e:#}")),
        }
    }

    /// Shows the newest flows-so-far of the files being read, and scores them (a preview: not
    /// recorded in the history; the whole is, once read).
    fn poll_partial_flows(&mut self, ctx: &egui::Context) {
        let Some(rx) = &self.partial_flows else { return };
        let Some(latest) = rx.try_iter().last() else { return };
        if self.load_job.is_none() {
            return;
        }
        if !self.flows.as_ref().is_some_and(|f| f.partial) {
            // The first flows of new files: pivots named the files shown before.
            self.forget_pivots();
        }
        self.flows = Some(latest);
        self.labels.clear();
        self.subject = None;
        self.generation += 1;
        self.start_preview_scoring(ctx);
    }

    fn start_preview_scoring(&mut self, ctx: &egui::Context) {
        let (Some(flows), Some(model)) = (&self.flows, &self.model) else { return };
        let (table, model) = (flows.table.clone(), model.clone());
        let label = format!("Scoring the {} flows read so far with {}", table.len(), model.name);
        self.score_job = Some(Job::spawn(&self.runtime, ctx, label, move |job| {
            let started = std::time::Instant::now();
            let verdicts = job
                .run_task(|task| service::scoring::score_briefly(&model, &table, task))
                .map_err(|e| format!("{e:#}"))?;
            let flows_per_s = table.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
            Ok(ScoredFlows { table, model: model.name.clone(), flows_per_s, verdicts: Arc::new(verdicts), drift: None })
        }));
    }

    /// Scores the flows on screen with the active model in the background, recording the batch.
    fn start_scoring(&mut self, ctx: &egui::Context) {
        if self.flows.as_ref().is_some_and(|f| f.partial) {
            // Flows so far of files still being read: never recorded as a batch.
            return self.start_preview_scoring(ctx);
        }
        let (Some(flows), Some(model)) = (&mut self.flows, &self.model) else { return };
        let along = flows.scored_along.take();
        let (table, findings, model, data_dir) =
            (flows.table.clone(), flows.findings.clone(), model.clone(), self.data_dir.clone());
        let label = format!("Scoring {} flows with {}", table.len(), model.name);
        self.score_job = Some(Job::spawn(&self.runtime, ctx, label, move |job| {
            let batch = job
                .run_task(|task| service::score_recorded_along(&data_dir, &model, &table, &findings, None, along, task))
                .map_err(|e| format!("{e:#}"))?;
            Ok(ScoredFlows {
                table,
                model: model.name.clone(),
                flows_per_s: batch.flows_per_s(),
                verdicts: Arc::new(batch.verdicts),
                drift: batch.drift.map(Arc::new),
            })
        }));
    }

    /// Conversations and endpoints of the flows on screen (in the time range, if one is set),
    /// and the generation and range they are of: older ones while the new ones are computed in
    /// the background.
    pub fn traffic(&mut self) -> Option<((u64, Option<TimeRange>), Arc<Traffic>)> {
        let Some(flows) = &self.flows else {
            self.traffic.clear();
            return None;
        };
        let (table, verdicts, findings) = (flows.table.clone(), flows.verdicts.clone(), flows.findings.clone());
        let range = self.time_range;
        self.traffic.update(&(self.generation, range), &self.runtime, move || {
            Arc::new(crate::service::traffic::traffic(
                &table,
                verdicts.as_deref().map(|v| v.as_slice()),
                Some(&findings),
                range,
            ))
        });
        self.traffic.held().map(|(k, t)| (*k, t.clone()))
    }

    fn forget_pivots(&mut self) {
        self.pivot = None;
        self.time_range = None;
        self.trail.clear();
    }

    fn here(&self) -> Place {
        Place { view: self.view, pivot: self.pivot.clone(), time_range: self.time_range }
    }

    fn go_to(&mut self, place: Place) {
        self.view = place.view;
        self.pivot = place.pivot;
        self.time_range = place.time_range;
    }

    /// Shows the flows of `filter` (every flow when `None`) in the flows view, within the
    /// current time range, remembering where the analyst was for Back.
    pub fn pivot_to(&mut self, filter: Option<PivotFilter>) {
        let to = Place { view: super::FlowsView::NAME, pivot: filter, time_range: self.time_range };
        self.trail.push(self.here(), to.clone());
        self.go_to(to);
    }

    /// Narrows every view to flows started in `range` (every flow when `None`), staying in
    /// the current view; Back undoes it.
    pub fn set_time_range(&mut self, range: Option<TimeRange>) {
        let to = Place { view: self.view, pivot: self.pivot.clone(), time_range: range };
        self.trail.push(self.here(), to.clone());
        self.go_to(to);
    }

    /// The place before the last pivot (Alt+Left).
    pub fn go_back(&mut self) {
        if let Some(place) = self.trail.step(self.here(), false) {
            self.go_to(place);
        }
    }

    /// The place Back left (Alt+Right).
    pub fn go_forward(&mut self) {
        if let Some(place) = self.trail.step(self.here(), true) {
            self.go_to(place);
        }
    }

    /// Polls the background jobs; called once per frame.
    pub fn poll_jobs(&mut self, ctx: &egui::Context) {
        self.poll_partial_flows(ctx);
        if let Some(job) = &self.load_job {
            let (progress, done) = job.poll_split();
            self.note_progress(progress);
            if let Some(result) = done {
                self.load_job = None;
                self.partial_flows = None;
                match result {
                    Ok(loaded) => {
                        // Lines that did not become flows are said, not silently passed over.
                        for source in &loaded.table.sources {
                            if let Some(skipped) = source.report.skipped_summary() {
                                self.info(format!("{}: {skipped}.", source.file_name()));
                            }
                        }
                        if let Some(why) = &loaded.stopped {
                            self.info(format!(
                                "Showing the {} flows read before reading was {why}.",
                                loaded.table.len()
                            ));
                        }
                        self.flows = Some(loaded);
                        // Pivots name addresses of the flows they were made on.
                        self.forget_pivots();
                        self.labels.clear();
                        self.subject = None;
                        self.generation += 1;
                        self.start_scoring(ctx);
                    }
                    Err(e) => self.error("The file could not be opened", e),
                }
            }
        }
        if let Some(job) = &self.model_job {
            let (progress, done) = job.poll_split();
            self.note_progress(progress);
            if let Some(result) = done {
                self.model_job = None;
                match result {
                    Ok(model) => {
                        self.model = Some(model);
                        // The verdicts on screen are always the active model's (an export
                        // computes its probabilities again with it).
                        if let Some(flows) = self.flows.as_mut().filter(|f| f.verdicts.is_some()) {
                            (flows.verdicts, flows.drift) = (None, None);
                            self.generation += 1;
                        }
                        self.start_scoring(ctx);
                    }
                    Err(e) if e.starts_with("No model found") => self.info(e),
                    Err(e) => self.error("The model could not be loaded", e),
                }
                if let Some((paths, read)) = self.pending_open.take() {
                    self.open_with(paths, read, ctx);
                }
            }
        }
        self.poll_scoring();
        self.poll_calibration(ctx);
        super::packets::poll(self);
        super::export::poll(self);
        let idle = [
            self.load_job.is_none(),
            self.model_job.is_none(),
            self.score_job.is_none(),
            self.calibration_job.is_none(),
        ];
        if idle.iter().all(|&i| i) && self.packets_job.is_none() && self.export_job.is_none() {
            self.activity = None;
        }
    }

    fn poll_scoring(&mut self) {
        let Some(job) = &self.score_job else { return };
        let (progress, done) = job.poll_split();
        let cancelled = job.is_cancelled();
        self.note_progress(progress);
        let Some(result) = done else { return };
        self.score_job = None;
        match result {
            Ok(scored) => {
                // Verdicts of a model or table that is no longer on screen are dropped.
                let current = self.model.as_ref().is_some_and(|m| m.name == scored.model);
                if let Some(flows) = self.flows.as_mut().filter(|f| Arc::ptr_eq(&f.table, &scored.table) && current) {
                    flows.verdicts = Some(scored.verdicts);
                    flows.flows_per_s = Some(scored.flows_per_s);
                    flows.drift = scored.drift;
                    self.generation += 1;
                }
            }
            Err(_) if cancelled => self.info("Scoring cancelled: the flows are shown without verdicts."),
            Err(e) => self.error("The flows could not be scored", e),
        }
    }

    fn note_progress(&mut self, progress: Vec<Progress>) {
        if let Some(p) = progress.last() {
            self.activity = Some(p.to_string());
        }
    }

    /// Calibrates the active model on the files on screen, taken as known-good traffic, for
    /// `fpr` false positives; once recorded, the model is loaded again with its new threshold.
    pub fn calibrate_on_open_files(&mut self, fpr: f64, ctx: &egui::Context) {
        let (Some(flows), Some(model)) = (&self.flows, &self.model) else { return };
        let (paths, model, data_dir) = (flows.paths.clone(), model.clone(), self.data_dir.clone());
        let label = format!("Calibrating {} on {}", model.name, flows.title);
        self.calibration_job = Some(Job::spawn(&self.runtime, ctx, label, move |job| {
            job.run_task(|task| {
                service::calibration::calibrate(&data_dir, &model, &paths, fpr, &ReadOptions::default(), task)
            })
            .map_err(|e| format!("{e:#}"))
        }));
    }

    fn poll_calibration(&mut self, ctx: &egui::Context) {
        let Some(job) = &self.calibration_job else { return };
        let (progress, done) = job.poll_split();
        self.note_progress(progress);
        let Some(result) = done else { return };
        self.calibration_job = None;
        match result {
            Ok(c) => {
                self.info(format!(
                    "{} calibrated: alert threshold {:.4} flags {:.3} % of the {} known-good flows (was {:.3} %)",
                    c.model_name,
                    c.threshold,
                    c.fpr_after * 100.0,
                    c.flows,
                    c.fpr_before * 100.0
                ));
                if let Some(m) = &self.model {
                    let (name, dir) = (m.name.clone(), m.dir.clone());
                    self.load_model(name, dir, ctx);
                }
            }
            Err(e) => self.error("The model could not be calibrated", e),
        }
    }

    /// Starts the scoring server for the active model on `server_bind`.
    pub fn start_server(&mut self) {
        let (Some(launcher), Some(model)) = (&self.launcher, &self.model) else { return };
        match launcher.start(model.clone(), self.server_bind) {
            Ok(server) => {
                let line = format!("Scoring server for {} on http://{}", server.model(), server.address());
                self.server = Some(server);
                self.info(line);
            }
            Err(e) => self.error("The scoring server could not start", format!("{e:#}")),
        }
    }

    pub fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
            self.info("Scoring server stopped.");
        }
    }

    /// The verdict of the active model for row `r` of the flows on screen.
    pub fn verdict(&self, r: usize) -> Option<BriefVerdict> {
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
        let meta = flows.table.meta()[r].clone();
        // A finding's rows are ascending: a binary search each, not a pass over all their rows.
        let row = u32::try_from(r).unwrap_or(u32::MAX);
        let mut evidence: Vec<String> = Vec::new();
        for f in flows.findings.findings.iter().filter(|f| f.rows.binary_search(&row).is_ok()) {
            let line = format!("in finding {}", f.label());
            if !evidence.contains(&line) {
                evidence.push(line);
            }
        }
        if let Some(source) = flows.table.sources.get(meta.source as usize) {
            evidence.extend(source.payload.http_at(meta.line).describe());
        }
        self.subject = Some(Subject {
            row: Some(r),
            original: features,
            edited: features,
            meta,
            label,
            origin: flows.title.clone(),
            evidence,
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

/// Verdicts for the flows of `table`, from the model named `model`.
pub struct ScoredFlows {
    pub table: Arc<FlowTable>,
    pub model: String,
    pub verdicts: Arc<Vec<BriefVerdict>>,
    pub flows_per_s: f64,
    pub drift: Option<Arc<DriftReport>>,
}

pub fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}
