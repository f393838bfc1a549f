//! The drift panel of the flows view: how far the loaded flows are from the active model's
//! training data (PSI per feature, computed with the verdicts off the UI thread). A warning
//! names the drifted features; picking one plots its training and batch shares per bin.

use egui_plot::{Bar, BarChart, Legend, Plot};

use super::style;
use crate::model::drift::{DriftLevel, DriftReport, PSI_MODERATE};

/// Features listed, most drifted first.
const SHOWN: usize = 12;

/// Draws the panel; `chosen` is the feature whose distributions are plotted.
pub fn drift_panel(ui: &mut egui::Ui, report: &DriftReport, chosen: &mut Option<usize>) {
    let level = report.level();
    let title = egui::RichText::new(report.headline());
    let title = match level {
        DriftLevel::Major => title.color(style::ATTACK),
        DriftLevel::Moderate => title.color(ui.visuals().warn_fg_color),
        DriftLevel::Stable => title,
    };
    egui::CollapsingHeader::new(title).id_salt("drift").default_open(false).show(ui, |ui| {
        if level != DriftLevel::Stable {
            ui.weak("These flows are not like the model's training data in the features below: its verdicts on them are less certain than its scores say.");
        }
        ui.horizontal_wrapped(|ui| {
            let drifted = report.drifted(PSI_MODERATE);
            let more = drifted.len().saturating_sub(SHOWN);
            let listed: Vec<_> = if drifted.is_empty() { report.drifted(0.0) } else { drifted }.into_iter().take(SHOWN).collect();
            for f in listed {
                let on = *chosen == Some(f.feature);
                if ui.selectable_label(on, format!("{} {:.2}", f.name, f.psi)).clicked() {
                    *chosen = if on { None } else { Some(f.feature) };
                }
            }
            if more > 0 {
                ui.weak(format!("and {more} more (inspect --drift lists all)"));
            }
        });
        let Some(f) = chosen.and_then(|c| report.features.iter().find(|f| f.feature == c)) else { return };
        let bar = |i: usize, share: f64, offset: f64| Bar::new(i as f64 + offset, share * 100.0).width(0.38);
        let training: Vec<Bar> = f.bins.iter().enumerate().map(|(i, b)| bar(i, b.expected, -0.2)).collect();
        let batch: Vec<Bar> = f.bins.iter().enumerate().map(|(i, b)| bar(i, b.actual, 0.2)).collect();
        let edges: Vec<String> = f.bins.iter().map(|b| b.upper.map_or("above".to_string(), |u| format!("<= {u}"))).collect();
        Plot::new("drift-bins")
            .height(140.0)
            .legend(Legend::default())
            .y_axis_label("% of flows")
            .x_axis_formatter(move |mark, _| edges.get(mark.value.round() as usize).cloned().unwrap_or_default())
            .show(ui, |p| {
                p.bar_chart(BarChart::new("training data", training).color(style::TABULAR));
                p.bar_chart(BarChart::new("these flows", batch).color(style::TEMPORAL));
            });
        ui.weak(format!("{}: PSI {:.3} over {} bins cut at the training deciles", f.name, f.psi, f.bins.len()));
    });
}
