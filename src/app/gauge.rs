//! The confidence gauge: a half dial from benign (left) to attack (right), drawn with egui's
//! painter.

use std::f32::consts::PI;

use egui::{Pos2, Sense, Stroke, Vec2, pos2};

use super::style::score_color;

/// Draws the gauge for P(attack) = `p` (a thin mark at `reference`, e.g. the original flow's
/// score, and a red tick at the model's alert `threshold`) and returns its response.
pub fn gauge(ui: &mut egui::Ui, p: f32, reference: Option<f32>, threshold: f32) -> egui::Response {
    let size = Vec2::new(200.0, 120.0);
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    let center = pos2(rect.center().x, rect.bottom() - 18.0);
    let radius = 86.0;
    let point = |t: f32, r: f32| -> Pos2 {
        let angle = PI * (1.0 - t);
        pos2(center.x + r * angle.cos(), center.y - r * angle.sin())
    };
    // The dial, coloured along its length.
    let segments = 48;
    for i in 0..segments {
        let (a, b) = (i as f32 / segments as f32, (i + 1) as f32 / segments as f32);
        let color = if b <= p + 1e-6 { score_color(b, threshold) } else { ui.visuals().widgets.inactive.bg_fill };
        painter.line_segment([point(a, radius), point(b, radius)], Stroke::new(14.0, color));
    }
    painter.line_segment(
        [point(threshold, radius - 9.0), point(threshold, radius + 12.0)],
        Stroke::new(3.0, super::style::ATTACK),
    );
    if let Some(r) = reference {
        painter.line_segment(
            [point(r, radius - 12.0), point(r, radius + 10.0)],
            Stroke::new(2.0, ui.visuals().text_color()),
        );
    }
    let needle = p.clamp(0.0, 1.0);
    painter.line_segment([center, point(needle, radius - 18.0)], Stroke::new(3.0, ui.visuals().strong_text_color()));
    painter.circle_filled(center, 5.0, ui.visuals().strong_text_color());
    painter.text(
        pos2(center.x, center.y + 10.0),
        egui::Align2::CENTER_CENTER,
        format!("P(attack) {:.1} %", p * 100.0),
        egui::FontId::proportional(15.0),
        score_color(p, threshold),
    );
    response.on_hover_text(format!(
        "Confidence that this flow is an attack; the red tick is the alert threshold ({:.1} %), the thin mark the original flow's score",
        threshold * 100.0
    ))
}

/// A labelled horizontal bar for a probability or weight in 0..=1.
pub fn bar(ui: &mut egui::Ui, label: &str, value: f32, color: egui::Color32) {
    ui.horizontal(|ui| {
        ui.add_sized([110.0, 16.0], egui::Label::new(label).truncate());
        let (rect, _) = ui.allocate_exact_size(Vec2::new(150.0, 14.0), Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, ui.visuals().widgets.inactive.bg_fill);
        let mut filled = rect;
        filled.set_width(rect.width() * value.clamp(0.0, 1.0));
        painter.rect_filled(filled, 2.0, color);
        ui.label(format!("{:.1} %", value * 100.0));
    });
}
