//! History: past runs, models, scored batches and investigations from the SQLite store;
//! reopen any of them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_plot::{Line, Plot};

use super::View;
use super::state::{AppState, Subject};
use super::style;
use crate::service::Investigation;
use crate::store::{BatchRecord, EpochRecord, ModelRecord, RunRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryTab {
    Runs,
    Models,
    Batches,
    Investigations,
}

struct Snapshot {
    runs: Vec<RunRecord>,
    models: Vec<ModelRecord>,
    batches: Vec<BatchRecord>,
    /// Per batch, the files it read when they are all still there (a stream's or a server's
    /// batch read none).
    batch_files: Vec<Option<Vec<PathBuf>>>,
    investigations: Vec<Investigation>,
    taken: Instant,
}

pub struct HistoryView {
    pub tab: HistoryTab,
    snapshot: Option<Snapshot>,
    selected_run: Option<(i64, Vec<EpochRecord>)>,
}

impl Default for HistoryView {
    fn default() -> Self {
        HistoryView { tab: HistoryTab::Runs, snapshot: None, selected_run: None }
    }
}

/// The files a batch read, one per line of its input, if they all still exist.
fn files_of(batch: &BatchRecord) -> Option<Vec<PathBuf>> {
    let paths: Vec<PathBuf> = batch.input.split('\n').map(PathBuf::from).collect();
    paths.iter().all(|p| p.is_file()).then_some(paths)
}

/// Re-read the history at most this often while the view is open (a background job may be
/// writing; WAL lets us read meanwhile).
const REFRESH: Duration = Duration::from_secs(2);

impl HistoryView {
    /// Re-reads the history the next time the view is drawn (e.g. when it is opened again).
    pub fn invalidate(&mut self) {
        self.snapshot = None;
    }

    pub fn counts(&self) -> Option<(usize, usize, usize, usize)> {
        self.snapshot.as_ref().map(|s| (s.runs.len(), s.models.len(), s.batches.len(), s.investigations.len()))
    }

    fn refresh(&mut self, state: &mut AppState, force: bool) {
        if !force && self.snapshot.as_ref().is_some_and(|s| s.taken.elapsed() < REFRESH) {
            return;
        }
        let read = state.store().and_then(|s| {
            let e = |e: crate::store::StoreError| e.to_string();
            let batches = s.batches().map_err(e)?;
            Ok(Snapshot {
                runs: s.runs().map_err(e)?,
                models: s.models().map_err(e)?,
                batch_files: batches.iter().map(files_of).collect(),
                batches,
                investigations: s.investigations().map_err(e)?.iter().map(Investigation::from_record).collect(),
                taken: Instant::now(),
            })
        });
        match read {
            Ok(s) => self.snapshot = Some(s),
            Err(e) => {
                state.error("The history could not be read", e);
                self.snapshot = Some(Snapshot {
                    runs: vec![],
                    models: vec![],
                    batches: vec![],
                    batch_files: vec![],
                    investigations: vec![],
                    taken: Instant::now(),
                });
            }
        }
    }

    fn runs(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(s) = &self.snapshot else { return };
        let mut open = None;
        egui::Grid::new("runs").striped(true).show(ui, |ui| {
            for h in ["id", "kind", "status", "split", "backend", "seconds", "test F1", "started", ""] {
                ui.strong(h);
            }
            ui.end_row();
            for r in &s.runs {
                ui.label(r.id.to_string());
                ui.label(&r.kind);
                ui.label(r.status.as_str());
                ui.label(&r.split);
                ui.label(&r.backend);
                ui.label(r.duration_s.map(|d| format!("{d:.1}")).unwrap_or_default());
                let f1 = r
                    .final_metrics
                    .as_ref()
                    .and_then(|m| m.pointer("/test/f1").or(m.get("f1")))
                    .and_then(|v| v.as_f64());
                ui.label(f1.map(|v| format!("{v:.4}")).unwrap_or_default());
                ui.label(&r.started_at);
                if ui.button("Open").clicked() {
                    open = Some(r.id);
                }
                ui.end_row();
            }
        });
        if let Some(id) = open {
            match state.store().and_then(|s| s.epochs(id).map_err(|e| e.to_string())) {
                Ok(epochs) => self.selected_run = Some((id, epochs)),
                Err(e) => state.error("The run could not be read", e),
            }
        }
        if let Some((id, epochs)) = &self.selected_run {
            ui.separator();
            ui.strong(format!("Run {id}: validation F1 per epoch"));
            let f1: Vec<[f64; 2]> = epochs
                .iter()
                .map(|e| [e.epoch as f64, e.metrics.get("valid_f1").and_then(|v| v.as_f64()).unwrap_or(0.0)])
                .collect();
            let loss: Vec<[f64; 2]> = epochs.iter().map(|e| [e.epoch as f64, e.train_loss]).collect();
            Plot::new("run-epochs").height(160.0).include_y(0.0).show(ui, |p| {
                p.line(Line::new("validation F1", f1).color(style::BENIGN));
                p.line(Line::new("training loss", loss).color(style::TABULAR));
            });
        }
    }

    fn models(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(s) = &self.snapshot else { return };
        let mut activate = None;
        egui::Grid::new("models").striped(true).show(ui, |ui| {
            for h in ["", "name", "created", "run", "bundle", ""] {
                ui.strong(h);
            }
            ui.end_row();
            for m in &s.models {
                ui.label(if m.active { "active" } else { "" });
                ui.label(&m.name);
                ui.label(&m.created_at);
                ui.label(m.run_id.map(|r| r.to_string()).unwrap_or_default());
                ui.label(if m.present { m.bundle_path.clone() } else { format!("{} (missing)", m.bundle_path) });
                if ui.add_enabled(m.present && !m.active, egui::Button::new("Activate")).clicked() {
                    activate = Some((m.name.clone(), PathBuf::from(&m.bundle_path)));
                }
                ui.end_row();
            }
        });
        if let Some((name, dir)) = activate {
            state.activate_model(name, dir, ui.ctx());
            self.refresh(state, true);
        }
    }

    fn batches(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(s) = &self.snapshot else { return };
        let mut reopen = None;
        egui::Grid::new("batches").striped(true).show(ui, |ui| {
            for h in ["id", "status", "model", "flows", "flagged", "at P(attack) ≥", "flows/s", "input", ""] {
                ui.strong(h);
            }
            ui.end_row();
            for (b, files) in s.batches.iter().zip(&s.batch_files) {
                ui.label(b.id.to_string());
                ui.label(&b.status);
                ui.label(&b.model_name);
                ui.label(b.flows.map(|n| n.to_string()).unwrap_or_default());
                ui.colored_label(style::ATTACK, b.flagged.map(|n| n.to_string()).unwrap_or_default());
                ui.label(b.threshold.map(|t| format!("{t:.4}")).unwrap_or_default());
                ui.label(b.flows_per_s.map(|n| format!("{n:.0}")).unwrap_or_default());
                ui.label(&b.input);
                let button = ui.add_enabled(files.is_some(), egui::Button::new("Reopen"));
                if button
                    .on_disabled_hover_text("Its input was not files (a stream, a server), or they are gone")
                    .clicked()
                {
                    reopen = files.clone();
                }
                ui.end_row();
            }
        });
        if let Some(paths) = reopen {
            state.open(paths, ui.ctx());
            state.view = super::FlowsView::NAME;
        }
    }

    fn investigations(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(s) = &self.snapshot else { return };
        let mut reopen = None;
        egui::Grid::new("investigations").striped(true).show(ui, |ui| {
            for h in ["id", "saved", "model", "flow", "P(attack) before -> after", "tags", "note", ""] {
                ui.strong(h);
            }
            ui.end_row();
            for i in &s.investigations {
                ui.label(i.id.map(|id| id.to_string()).unwrap_or_default());
                ui.label(i.created_at.as_deref().unwrap_or_default());
                ui.label(&i.model_name);
                let f = &i.flow;
                ui.label(format!(
                    "{} -> {}",
                    super::flows::endpoint(f.src_ip, f.src_port),
                    super::flows::endpoint(f.dst_ip, f.dst_port)
                ));
                ui.label(format!("{:.3} -> {:.3}", i.verdict_before.p_attack, i.verdict_after.p_attack));
                ui.label(i.tags.join(", "));
                ui.label(&i.note);
                if ui.button("Reopen").clicked() {
                    reopen = Some(i.clone());
                }
                ui.end_row();
            }
        });
        if let Some(inv) = reopen {
            state.subject = Some(subject_of(&inv));
            state.view = super::InspectorView::NAME;
        }
    }
}

/// A saved investigation back in the inspector: the flow with its addresses, and its
/// original and edited features as saved.
fn subject_of(inv: &Investigation) -> Subject {
    Subject {
        row: None,
        original: inv.before,
        edited: inv.after,
        meta: inv.flow.meta(),
        label: inv.flow.label.clone(),
        origin: format!("investigation #{}: {}", inv.id.unwrap_or_default(), inv.note),
        evidence: Vec::new(),
    }
}

impl HistoryView {
    pub const NAME: &'static str = "History";
}

impl View for HistoryView {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn on_show(&mut self) {
        // Runs and batches may have been recorded since the view was last drawn.
        self.invalidate();
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        self.refresh(state, false);
        ui.horizontal(|ui| {
            for (tab, title) in [
                (HistoryTab::Runs, "Runs"),
                (HistoryTab::Models, "Models"),
                (HistoryTab::Batches, "Scored batches"),
                (HistoryTab::Investigations, "Investigations"),
            ] {
                ui.selectable_value(&mut self.tab, tab, title);
            }
            if ui.button("Refresh").clicked() {
                self.refresh(state, true);
            }
            ui.weak(format!("{}", state.data_dir.display()));
        });
        ui.separator();
        egui::ScrollArea::both().id_salt("history").show(ui, |ui| match self.tab {
            HistoryTab::Runs => self.runs(ui, state),
            HistoryTab::Models => self.models(ui, state),
            HistoryTab::Batches => self.batches(ui, state),
            HistoryTab::Investigations => self.investigations(ui, state),
        });
        ui.ctx().request_repaint_after(REFRESH);
    }
}
