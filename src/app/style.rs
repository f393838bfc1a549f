//! Colours of verdicts, shared by every view.

use egui::Color32;

pub const ATTACK: Color32 = Color32::from_rgb(220, 70, 60);
pub const BENIGN: Color32 = Color32::from_rgb(60, 160, 90);
pub const TABULAR: Color32 = Color32::from_rgb(80, 130, 220);
pub const TEMPORAL: Color32 = Color32::from_rgb(230, 150, 40);

/// The colour of the expert in gate slot `slot` (`ExpertSpec::slot`).
pub fn expert_color(slot: usize) -> Color32 {
    [TABULAR, TEMPORAL].get(slot).copied().unwrap_or(Color32::GRAY)
}

/// Green for benign through amber (at the model's threshold: its own, chosen in training, unless
/// calibrated) to red for certain attacks.
pub fn score_color(p: f32, threshold: f32) -> Color32 {
    let p = p.clamp(0.0, 1.0);
    let lerp = |a: u8, b: u8, t: f32| (a as f32 + (b as f32 - a as f32) * t) as u8;
    let th = threshold.clamp(1e-6, 1.0 - 1e-6);
    let (a, b, t) = if p < th {
        ((60, 160, 90), (230, 170, 40), p / th)
    } else {
        ((230, 170, 40), (220, 70, 60), (p - th) / (1.0 - th))
    };
    Color32::from_rgb(lerp(a.0, b.0, t), lerp(a.1, b.1, t), lerp(a.2, b.2, t))
}

/// A faint background for a table row: transparent for benign, red for attacks.
pub fn row_tint(p_attack: f32, threshold: f32) -> Color32 {
    let th = threshold.clamp(1e-6, 1.0 - 1e-6);
    if p_attack < threshold {
        Color32::TRANSPARENT
    } else {
        let alpha = (30.0 + 60.0 * ((p_attack - th) / (1.0 - th)).clamp(0.0, 1.0)) as u8;
        Color32::from_rgba_unmultiplied(220, 70, 60, alpha)
    }
}

/// A labelled combo box choosing one of the 72 features (its index into `FEATURES`).
pub fn feature_picker(ui: &mut egui::Ui, label: &str, id: &str, selected: &mut usize) {
    use crate::features::FEATURES;
    let label = ui.label(label);
    egui::ComboBox::from_id_salt(id)
        .selected_text(FEATURES[*selected].name)
        .height(400.0)
        .show_ui(ui, |ui| {
            for (i, f) in FEATURES.iter().enumerate() {
                ui.selectable_value(selected, i, f.name);
            }
        })
        .response
        .labelled_by(label.id);
}

/// A colour per attack family, for charts that stack them (benign: the grey of the flows).
pub fn family_color(f: crate::ingest::AttackFamily) -> Color32 {
    use crate::ingest::AttackFamily as F;
    match f {
        F::Benign => Color32::from_gray(150),
        F::Dos => Color32::from_rgb(220, 70, 60),
        F::Ddos => Color32::from_rgb(160, 30, 40),
        F::Portscan => Color32::from_rgb(230, 150, 40),
        F::Bruteforce => Color32::from_rgb(170, 90, 200),
        F::Webattack => Color32::from_rgb(60, 140, 220),
        F::Botnet => Color32::from_rgb(40, 170, 160),
        F::Infiltration => Color32::from_rgb(200, 200, 60),
        F::Heartbleed => Color32::from_rgb(240, 110, 170),
        F::UnknownAttack => Color32::from_rgb(120, 120, 220),
    }
}
