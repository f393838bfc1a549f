//! Compare (inside the Train view): the MoE, the classical baselines and the autoencoder on the
//! Train view's data and split; a table and a bar chart of F1 and ROC-AUC per model. Shows the
//! newest comparison of the history until a new one runs.

use std::path::PathBuf;

use egui_plot::{Bar, BarChart, Legend, Plot};

use super::jobs::Job;
use super::state::AppState;
use super::style;
use crate::model::{DeviceChoice, MoeConfig};
use crate::service::{CompareRequest, compare_recorded};
use crate::train::autoencoder::AnomalyConfig;
use crate::train::compare::{CompareConfig, CompareEvent, ComparisonRow, Contender};
use crate::train::split::SplitKind;
use crate::train::training::{TrainEvent, TrainingConfig};

/// What the comparison is run on: the Train view's current choices.
pub struct CompareInputs<'a> {
    pub inputs: &'a [PathBuf],
    pub split: SplitKind,
    pub epochs: usize,
}

#[derive(Default)]
pub struct ComparePanel {
    job: Option<Job<(i64, crate::train::compare::Comparison), CompareEvent>>,
    /// The table shown: from the running comparison, or the newest one in the history.
    rows: Vec<ComparisonRow>,
    /// Which comparison the table is, in words.
    caption: String,
    status: String,
    loaded_history: bool,
}

impl ComparePanel {
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    pub fn rows(&self) -> &[ComparisonRow] {
        &self.rows
    }

    pub fn status(&self) -> &str {
        &self.status
    }

    /// Starts a comparison of every model in the background.
    pub fn start(&mut self, state: &AppState, ctx: &egui::Context, on: &CompareInputs) {
        let request = CompareRequest {
            inputs: on.inputs.to_vec(),
            read: crate::ingest::ReadOptions::default(),
            config: CompareConfig {
                split: on.split,
                seed: 42,
                contenders: Contender::all(),
                moe: MoeConfig::new(),
                training: TrainingConfig::new().with_epochs(on.epochs),
                anomaly: AnomalyConfig::new(),
            },
            device: DeviceChoice::Auto,
        };
        let data_dir = state.data_dir.clone();
        self.rows.clear();
        self.caption = format!("split {} (running)", on.split.name());
        self.status = "reading the data".into();
        self.job = Some(Job::spawn(&state.runtime, ctx, "Comparing models", move |job| {
            job.run_task(|task| compare_recorded(&data_dir, &request, task)).map_err(|e| format!("{e:#}"))
        }));
    }

    fn load_newest(&mut self, state: &AppState) {
        self.loaded_history = true;
        let newest = state.store().ok().and_then(|s| s.comparisons().ok()).and_then(|c| c.into_iter().next());
        if let Some((run, rows)) = newest {
            self.caption =
                format!("run {} · split {} · {} · {}", run.id, run.split, run.started_at, run.status.as_str());
            self.rows = rows;
        }
    }

    fn poll(&mut self, state: &mut AppState) {
        let Some(job) = &self.job else { return };
        let cancelled = job.is_cancelled();
        let (events, done) = job.poll_split();
        for e in events {
            self.on_event(e);
        }
        match done {
            None => {}
            Some(Ok((run_id, comparison))) => {
                self.caption =
                    format!("run {run_id} · split {} · {} test flows", comparison.split, comparison.test_rows);
                self.rows = comparison.rows;
                self.status = "finished".into();
                self.job = None;
            }
            Some(Err(e)) => {
                self.status = if cancelled { format!("cancelled: {e}") } else { format!("stopped: {e}") };
                if !cancelled {
                    state.error("The comparison stopped", e);
                }
                self.job = None;
            }
        }
    }

    fn on_event(&mut self, e: CompareEvent) {
        match e {
            CompareEvent::Started { models, train_rows, test_rows } => {
                self.status = format!("{} models, {train_rows} training flows, {test_rows} test flows", models.len());
            }
            CompareEvent::Training { index, model } => self.status = format!("[{}] training {model}", index + 1),
            CompareEvent::Moe(TrainEvent::Epoch(r)) => {
                self.status = format!("MoE epoch {}: validation F1 {:.4}", r.epoch, r.valid_f1)
            }
            CompareEvent::Moe(_) => {}
            CompareEvent::Finished(row) => self.rows.push(row),
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState, on: &CompareInputs) {
        if !self.loaded_history {
            self.load_newest(state);
        }
        self.poll(state);
        ui.horizontal(|ui| {
            ui.strong("Compare models");
            let running = self.job.is_some();
            let start = egui::Button::new("Compare on this data and split");
            if ui.add_enabled(!running && !on.inputs.is_empty(), start).clicked() {
                self.start(state, ui.ctx(), on);
            }
            if ui.add_enabled(running, egui::Button::new("Cancel comparison")).clicked() {
                if let Some(job) = &self.job {
                    job.cancel();
                }
            }
            if running {
                ui.spinner();
            }
            ui.label(&self.status);
        });
        if self.rows.is_empty() {
            ui.label("No comparison yet: the MoE, a decision tree, a random forest, gradient boosting, logistic regression and an autoencoder trained on benign flows, on the same split.");
            return;
        }
        ui.label(&self.caption);
        table(ui, &self.rows);
        chart(ui, &self.rows);
    }
}

fn table(ui: &mut egui::Ui, rows: &[ComparisonRow]) {
    egui::Grid::new("comparison").striped(true).show(ui, |ui| {
        for h in ["model", "F1", "precision", "recall", "FPR", "threshold", "ROC-AUC", "train s", "flows/s"] {
            ui.strong(h);
        }
        ui.end_row();
        for r in rows {
            let m = &r.metrics;
            ui.label(&r.model);
            for v in [m.f1, m.precision, m.recall, m.false_positive_rate, f64::from(r.threshold)] {
                ui.label(format!("{v:.4}"));
            }
            ui.label(m.roc_auc.map_or("-".into(), |a| format!("{a:.4}")));
            ui.label(format!("{:.1}", r.train_seconds));
            ui.label(format!("{:.0}", r.flows_per_second));
            ui.end_row();
        }
    });
}

/// Horizontal bars, one pair (F1, ROC-AUC) per model, model names on the vertical axis.
fn chart(ui: &mut egui::Ui, rows: &[ComparisonRow]) {
    let names: Vec<String> = rows.iter().map(|r| r.model.clone()).collect();
    let bars = |offset: f64, value: &dyn Fn(&ComparisonRow) -> f64| -> Vec<Bar> {
        rows.iter().enumerate().map(|(i, r)| Bar::new(i as f64 + offset, value(r)).name(&r.model).width(0.35)).collect()
    };
    let f1 = BarChart::new("F1", bars(-0.2, &|r| r.metrics.f1)).horizontal().color(style::TABULAR);
    let auc =
        BarChart::new("ROC-AUC", bars(0.2, &|r| r.metrics.roc_auc.unwrap_or(0.0))).horizontal().color(style::TEMPORAL);
    Plot::new("comparison-chart")
        .height(40.0 * rows.len() as f32 + 40.0)
        .legend(Legend::default())
        .include_x(0.0)
        .include_x(1.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .y_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |p| {
            p.bar_chart(f1);
            p.bar_chart(auc);
        });
}
