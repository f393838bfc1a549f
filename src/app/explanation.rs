//! Why this verdict: the inspector's signed bar chart of the features that moved the attack
//! logit most from the baseline flow (integrated gradients, `model::explain`). Computed on a
//! worker thread for the flow as edited, so the bars follow the analyst's what-if edits; a
//! click on a bar asks the inspector to show that feature's row.

use std::sync::mpsc::{Receiver, channel};

use super::style;
use crate::features::{FEATURES, N_FEATURES};
use crate::model::explain::{BaselineKind, Explanation};
use crate::service::LoadedModel;

/// Bars shown.
const SHOWN: usize = 8;

type Key = ([u32; N_FEATURES], String);

#[derive(Default)]
pub struct ExplanationPanel {
    /// The flow (as edited) and model the shown explanation belongs to.
    shown_for: Option<Key>,
    current: Option<Explanation>,
    pending: Option<(Key, Receiver<Explanation>)>,
}

impl ExplanationPanel {
    /// The explanation on screen, once computed.
    pub fn current(&self) -> Option<&Explanation> {
        self.current.as_ref()
    }

    /// Starts explaining `edited` when it (or the model) changed; picks up a finished result.
    fn update(&mut self, edited: &[f32; N_FEATURES], model: &LoadedModel, ctx: &egui::Context) {
        let key: Key = (edited.map(f32::to_bits), model.name.clone());
        if let Some((k, rx)) = &self.pending {
            if let Ok(e) = rx.try_recv() {
                self.shown_for = Some(k.clone());
                self.current = Some(e);
                self.pending = None;
            }
        }
        let wanted = self.pending.as_ref().map(|(k, _)| k).or(self.shown_for.as_ref());
        if wanted == Some(&key) {
            return;
        }
        let (tx, rx) = channel();
        let (row, model, ctx) = (*edited, model.clone(), ctx.clone());
        std::thread::spawn(move || {
            let e = model.scorer.explainer().explain(&model.scorer.preprocess_row(&row));
            if tx.send(e).is_ok() {
                ctx.request_repaint();
            }
        });
        self.pending = Some((key, rx));
    }

    /// Draws the chart; returns the feature whose bar was clicked.
    pub fn ui(&mut self, ui: &mut egui::Ui, edited: &[f32; N_FEATURES], model: &LoadedModel) -> Option<usize> {
        self.update(edited, model, ui.ctx());
        ui.strong("Why: features that moved the verdict");
        let Some(e) = &self.current else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.weak("explaining...");
            });
            return None;
        };
        ui.weak(format!(
            "attack log-odds {:+.2} against {:+.2} for {} (P(attack) {:.1} %); red pushes towards attack",
            e.logit,
            e.baseline_logit,
            BaselineKind::of(&model.preprocessor).describe(),
            e.baseline_p_attack * 100.0
        ));
        let top = e.top(SHOWN);
        let scale = top.iter().map(|(_, a)| a.abs()).fold(1e-6, f32::max);
        let mut clicked = None;
        for (j, a) in top {
            let pct = model.preprocessor.percentile(j, edited[j]).map_or("-".into(), |p| format!("{p:.0}"));
            let text = format!("{} = {} (p{pct}) {a:+.2}", FEATURES[j].name, super::flows::format_value(edited[j]));
            if signed_bar(ui, &text, a / scale).clicked() {
                clicked = Some(j);
            }
        }
        clicked
    }
}

/// A clickable row: the label above a bar growing right (towards attack, red) or left
/// (towards benign, green) from the middle; `share` in [-1, 1].
fn signed_bar(ui: &mut egui::Ui, text: &str, share: f32) -> egui::Response {
    let width = ui.available_width().min(320.0);
    let response = ui
        .add(egui::Button::new(egui::RichText::new(text).small()).frame(false))
        .on_hover_text("Show this feature's row");
    let (rect, bar) = ui.allocate_exact_size(egui::vec2(width, 8.0), egui::Sense::click());
    let mid = rect.center().x;
    let end = mid + share.clamp(-1.0, 1.0) * rect.width() / 2.0;
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 1.0, ui.visuals().widgets.inactive.bg_fill);
    let fill = egui::Rect::from_x_y_ranges(mid.min(end)..=mid.max(end), rect.y_range());
    painter.rect_filled(fill, 1.0, if share >= 0.0 { style::ATTACK } else { style::BENIGN });
    response.union(bar)
}
