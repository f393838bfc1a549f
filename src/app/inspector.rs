//! The inspector: one flow's 72 features in three tabs, editable, re-scored on every edit,
//! with the verdict panel (gauge, family probabilities, gate weights, change against the
//! original flow).

use super::View;
use super::gauge::{bar, gauge};
use super::state::{AppState, Subject};
use super::style;
use crate::features::{FEATURES, N_FEATURES, Sign, Tab, consistency};
use crate::ingest::AttackFamily;
use crate::model::Verdict;
use crate::service::LoadedModel;

#[derive(Default)]
pub struct InspectorView {
    tab: Option<Tab>,
    /// Text being typed per feature, until it parses.
    texts: Vec<String>,
    /// Edit problems per feature (rejected values).
    problems: Vec<Option<String>>,
    /// Identity of the subject and model the cached verdicts belong to.
    scored_for: Option<([u32; N_FEATURES], [u32; N_FEATURES], String)>,
    original_verdict: Option<Verdict>,
    edited_verdict: Option<Verdict>,
    loaded_subject: Option<[u32; N_FEATURES]>,
    /// Why the model decides as it does, for the flow as edited.
    pub explanation: super::explanation::ExplanationPanel,
    /// A feature to bring into view in the form (a click on its explanation bar).
    focus: Option<usize>,
}

fn bits(row: &[f32; N_FEATURES]) -> [u32; N_FEATURES] {
    row.map(f32::to_bits)
}

impl InspectorView {
    /// The verdict of the edited flow (after the last frame).
    pub fn edited_verdict(&self) -> Option<Verdict> {
        self.edited_verdict
    }

    pub fn original_verdict(&self) -> Option<Verdict> {
        self.original_verdict
    }

    /// The tab of the feature form on screen.
    pub fn tab(&self) -> Tab {
        self.tab.unwrap_or(Tab::Flow)
    }

    /// Keeps the text buffers and verdicts in step with the subject and the model.
    fn sync(&mut self, subject: &Subject, model: Option<&LoadedModel>) {
        let original = bits(&subject.original);
        if self.loaded_subject != Some(original) || self.texts.len() != N_FEATURES {
            self.texts = subject.edited.iter().map(|v| super::flows::format_value(*v)).collect();
            self.problems = vec![None; N_FEATURES];
            self.loaded_subject = Some(original);
        }
        let Some(model) = model else {
            self.original_verdict = None;
            self.edited_verdict = None;
            self.scored_for = None;
            return;
        };
        let key = (original, bits(&subject.edited), model.name.clone());
        if self.scored_for.as_ref() != Some(&key) {
            // One row through the model takes about a millisecond: re-score on the UI thread so
            // the verdict follows every keystroke.
            let same_original = self.scored_for.as_ref().is_some_and(|(o, _, m)| *o == original && *m == model.name);
            if !same_original {
                self.original_verdict = Some(model.scorer.score_row(&subject.original));
            }
            self.edited_verdict = Some(model.scorer.score_row(&subject.edited));
            self.scored_for = Some(key);
        }
    }

    fn header(ui: &mut egui::Ui, subject: &Subject) {
        let m = &subject.meta;
        ui.horizontal_wrapped(|ui| {
            ui.heading(match subject.row {
                Some(r) => format!("Flow {}", r + 1),
                None => "Flow".to_string(),
            });
            ui.label(format!(
                "{} -> {}",
                super::flows::endpoint(m.src_ip(), m.src_port),
                super::flows::endpoint(m.dst_ip(), m.dst_port)
            ));
            if let Some(p) = m.protocol {
                ui.label(crate::service::traffic::protocol_name(Some(p)));
            }
            if let Some(t) = m.timestamp_us() {
                ui.label(crate::ingest::timestamp::format_timestamp(t));
            }
            if let Some(l) = &subject.label {
                ui.label(format!("label: {l}"));
            }
            ui.weak(format!("from {}", subject.origin));
        });
        if !subject.evidence.is_empty() {
            ui.horizontal_wrapped(|ui| {
                for e in &subject.evidence {
                    ui.label(e);
                }
            });
        }
    }

    fn feature_form(&mut self, ui: &mut egui::Ui, subject: &mut Subject, model: Option<&LoadedModel>) {
        let tab = *self.tab.get_or_insert(Tab::Flow);
        ui.horizontal(|ui| {
            for t in Tab::ALL {
                if ui.selectable_label(tab == t, t.label()).clicked() {
                    self.tab = Some(t);
                }
            }
            ui.separator();
            let edited = subject.original != subject.edited;
            if ui.add_enabled(edited, egui::Button::new("Reset to original")).clicked() {
                subject.edited = subject.original;
                self.loaded_subject = None;
            }
        });
        ui.separator();
        egui::ScrollArea::vertical().id_salt("feature-form").show(ui, |ui| {
            egui::Grid::new("features").striped(true).num_columns(5).show(ui, |ui| {
                ui.strong("Feature");
                ui.strong("Value");
                ui.strong("Unit");
                ui.strong("Training percentile");
                ui.strong("Original");
                ui.end_row();
                for (i, spec) in FEATURES.iter().enumerate().filter(|(_, f)| f.tab == tab) {
                    let name = ui.label(spec.name).on_hover_text(spec.description);
                    let changed = subject.edited[i].to_bits() != subject.original[i].to_bits();
                    let mut edit = egui::TextEdit::singleline(&mut self.texts[i]);
                    if self.problems[i].is_some() {
                        edit = edit.text_color(ui.visuals().error_fg_color);
                    } else if changed {
                        edit = edit.text_color(style::TEMPORAL);
                    }
                    let response = ui.add_sized([130.0, 18.0], edit).labelled_by(name.id);
                    if self.focus == Some(i) {
                        response.scroll_to_me(Some(egui::Align::Center));
                        response.request_focus();
                        self.focus = None;
                    }
                    if response.changed() {
                        self.apply_text(i, subject);
                    }
                    if let Some(p) = &self.problems[i] {
                        response.on_hover_text(p.as_str());
                    }
                    ui.label(spec.unit.symbol());
                    let pct = model.and_then(|m| m.preprocessor.percentile(i, subject.edited[i]));
                    ui.label(pct.map(|p| format!("{p:.0}")).unwrap_or_else(|| "-".into()));
                    ui.weak(if changed { super::flows::format_value(subject.original[i]) } else { String::new() });
                    ui.end_row();
                }
            });
        });
    }

    /// Parses and validates the text of feature `i`; a valid value replaces the edited one.
    fn apply_text(&mut self, i: usize, subject: &mut Subject) {
        let text = self.texts[i].trim();
        self.problems[i] = match text.parse::<f32>() {
            Err(_) => Some(format!("'{text}' is not a number")),
            Ok(v) if !v.is_finite() => Some("the value must be finite".into()),
            Ok(v) => match FEATURES[i].sign {
                Sign::NonNegative if v < 0.0 => Some(format!("{} cannot be negative", FEATURES[i].name)),
                Sign::SentinelMinusOne if v < 0.0 && v != -1.0 => {
                    Some(format!("{} is >= 0, or -1 for 'no packet seen'", FEATURES[i].name))
                }
                _ => {
                    subject.edited[i] = v;
                    None
                }
            },
        };
    }

    fn verdict_panel(&self, ui: &mut egui::Ui, subject: &Subject, model: Option<&LoadedModel>) {
        let Some(model) = model else {
            ui.label("No model is active: load one in History -> Models, or train one.");
            return;
        };
        let (Some(now), Some(before)) = (self.edited_verdict, self.original_verdict) else { return };
        ui.heading(match (now.unfamiliar, now.family) {
            (true, AttackFamily::Benign) => "Unfamiliar flow, scored benign".to_string(),
            (true, _) => "Unfamiliar flow, flagged as an attack".to_string(),
            (false, AttackFamily::Benign) => "Benign".to_string(),
            (false, f) => format!("Attack: {}", f.name()),
        });
        if now.unfamiliar {
            ui.label("Far from everything the model was trained on: its score is a guess, and it names no family.");
        }
        let edited = subject.original != subject.edited;
        gauge(ui, now.p_attack, edited.then_some(before.p_attack), model.threshold);
        if edited {
            let delta = now.p_attack - before.p_attack;
            ui.label(format!(
                "Original {:.1} % ({}) -> now {:.1} % ({}), {:+.1} points",
                before.p_attack * 100.0,
                before.label(),
                now.p_attack * 100.0,
                now.label(),
                delta * 100.0
            ));
        }
        ui.separator();
        ui.strong("Probability per family");
        for f in AttackFamily::CLASSES {
            let color = if f == AttackFamily::Benign { style::BENIGN } else { style::ATTACK };
            bar(ui, f.name(), now.family_probs[f.index()], color);
        }
        ui.separator();
        ui.strong("Expert gate weights");
        for expert in &model.experts {
            bar(ui, expert.name, now.gate[expert.slot], style::expert_color(expert.slot));
        }
        if edited {
            let original: Vec<String> =
                model.experts.iter().map(|e| format!("{:.1} %", before.gate[e.slot] * 100.0)).collect();
            ui.weak(format!("original: {}", original.join(" / ")));
        }
        ui.separator();
        ui.weak(format!("model {} · {}", model.name, model.backend));
    }
}

impl InspectorView {
    pub const NAME: &'static str = "Inspector";
}

impl View for InspectorView {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(mut subject) = state.subject.take() else {
            ui.label("Select a flow in the Flows view (or pick one from the Examples menu) to inspect it.");
            return;
        };
        self.sync(&subject, state.model.as_ref());
        Self::header(ui, &subject);
        egui::Panel::right("verdict").resizable(false).default_size(330.0).show(ui, |ui| {
            // The explanation below the verdict can be taller than the window.
            egui::ScrollArea::vertical().id_salt("verdict-scroll").show(ui, |ui| {
                self.verdict_panel(ui, &subject, state.model.as_ref());
                if let Some(model) = state.model.as_ref() {
                    ui.separator();
                    if let Some(j) = self.explanation.ui(ui, &subject.edited, model) {
                        self.tab = Some(FEATURES[j].tab);
                        self.focus = Some(j);
                    }
                }
                let warnings = consistency::new_warnings(&subject.original, &subject.edited);
                if !warnings.is_empty() {
                    ui.separator();
                    ui.strong("Derived features disagree");
                    for w in warnings {
                        ui.colored_label(ui.visuals().warn_fg_color, w.message);
                    }
                }
            });
        });
        self.feature_form(ui, &mut subject, state.model.as_ref());
        self.sync(&subject, state.model.as_ref());
        state.subject = Some(subject);
    }
}
