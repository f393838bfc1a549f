//! What-if: sweep one feature of the inspected flow across its training range, plot P(attack)
//! against it, and save the investigation (flow, edits, verdicts, a note) to the history.

use egui_plot::{Line, Plot, Points, VLine};

use super::View;
use super::state::AppState;
use super::style;
use crate::features::{FEATURES, FeatureId, N_FEATURES};
use crate::service::investigations::{self, FlowRef, Investigation};

const STEPS: usize = 64;

pub struct WhatIfView {
    pub feature: usize,
    /// (feature, edited flow bits, model) the sweep was computed for, and its points.
    sweep: Option<((usize, [u32; N_FEATURES], String), Vec<[f64; 2]>)>,
    pub note: String,
    pub tags: String,
    saved: Option<i64>,
}

impl Default for WhatIfView {
    fn default() -> Self {
        WhatIfView {
            feature: FeatureId::FlowIatMax as usize,
            sweep: None,
            note: String::new(),
            tags: String::new(),
            saved: None,
        }
    }
}

impl WhatIfView {
    /// The sweep's (value, P(attack)) points, once computed.
    pub fn points(&self) -> Option<&[[f64; 2]]> {
        self.sweep.as_ref().map(|(_, p)| p.as_slice())
    }

    fn compute(&mut self, state: &AppState) {
        let (Some(subject), Some(model)) = (&state.subject, &state.model) else { return };
        let key = (self.feature, subject.edited.map(f32::to_bits), model.name.clone());
        if self.sweep.as_ref().is_some_and(|(k, _)| *k == key) {
            return;
        }
        let values = model.preprocessor.sweep_values(self.feature, STEPS);
        let mut rows = Vec::with_capacity(values.len() * N_FEATURES);
        for v in &values {
            let mut row = subject.edited;
            row[self.feature] = *v;
            rows.extend_from_slice(&row);
        }
        // 64 rows are one forward pass: cheap enough for the UI thread.
        let verdicts = model.scorer.score_raw(&rows);
        let points = values.iter().zip(&verdicts).map(|(v, s)| [f64::from(*v), f64::from(s.p_attack)]).collect();
        self.sweep = Some((key, points));
    }

    fn save(&mut self, state: &mut AppState) {
        let (Some(subject), Some(model)) = (&state.subject, &state.model) else { return };
        let mut flow = FlowRef::new(&subject.meta, subject.row, subject.label.clone());
        flow.swept_feature = Some(FEATURES[self.feature].name.to_string());
        let tags = self.tags.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        let inv = Investigation::new(
            model,
            subject.origin.clone(),
            flow,
            subject.original,
            subject.edited,
            self.note.clone(),
            tags,
        );
        match investigations::save(&state.data_dir, &inv) {
            Ok(id) => {
                self.saved = Some(id);
                state.info(format!("Investigation {id} saved to the history."));
            }
            Err(e) => state.error("The investigation could not be saved", format!("{e:#}")),
        }
    }
}

impl WhatIfView {
    pub const NAME: &'static str = "What-if";
}

impl View for WhatIfView {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        if state.subject.is_none() || state.model.is_none() {
            ui.label("Open a flow in the inspector (and have a model active) to ask what-if questions.");
            return;
        }
        ui.horizontal(|ui| {
            style::feature_picker(ui, "Sweep", "sweep-feature", &mut self.feature);
            ui.label(format!(
                "({}) across its training range, other features as edited",
                FEATURES[self.feature].unit.symbol()
            ));
        });
        self.compute(state);
        let current = state.subject.as_ref().map_or(0.0, |s| s.edited[self.feature]);
        if let Some((_, points)) = &self.sweep {
            let line = Line::new("P(attack)", points.clone()).color(style::ATTACK).width(2.0);
            let marks = Points::new("steps", points.clone()).radius(2.0);
            Plot::new("what-if")
                .height(ui.available_height() - 140.0)
                .include_y(0.0)
                .include_y(1.0)
                .x_axis_label(format!("{} ({})", FEATURES[self.feature].name, FEATURES[self.feature].unit.symbol()))
                .y_axis_label("P(attack)")
                .show(ui, |p| {
                    p.line(line);
                    p.points(marks);
                    p.vline(VLine::new("this flow", f64::from(current)));
                });
        }
        ui.separator();
        ui.horizontal(|ui| {
            let note = ui.label("Note");
            ui.add(egui::TextEdit::singleline(&mut self.note).desired_width(360.0)).labelled_by(note.id);
            let tags = ui.label("Tags");
            ui.add(egui::TextEdit::singleline(&mut self.tags).hint_text("comma separated").desired_width(160.0))
                .labelled_by(tags.id);
            if ui.button("Save investigation").clicked() {
                self.save(state);
            }
            if let Some(id) = self.saved {
                ui.weak(format!("saved as #{id}"));
            }
        });
    }
}
