//! The findings list of the flows view: host-level findings (scans, floods, brute force) of
//! the loaded flows, above the table. Clicking (or double-clicking) one pivots the table to the
//! flows it rests on, a step Back and Forward go through; "Show all flows" clears it. The findings themselves
//! are computed with the load, off the UI thread (see `state::AppState::open`).

use super::style;
use crate::detect::Findings;

/// What the analyst did in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingsAction {
    /// Show only the flows of finding `i`.
    Show(usize),
    /// Show every flow again.
    Clear,
}

/// Draws the list; `selected` is the finding the table is filtered to.
pub fn findings_list(ui: &mut egui::Ui, findings: &Findings, selected: Option<usize>) -> Option<FindingsAction> {
    let mut action = None;
    let title = if findings.not_run.is_some() {
        "Findings: not looked for".to_string()
    } else {
        format!("Findings ({})", findings.findings.len())
    };
    egui::CollapsingHeader::new(title).id_salt("findings").default_open(true).show(ui, |ui| {
        if let Some(why) = &findings.not_run {
            ui.weak(format!("Scans, floods and brute force were not looked for: {why}."));
            return;
        }
        for note in &findings.notes {
            ui.weak(format!("Note: {note}."));
        }
        if findings.is_empty() {
            ui.weak(format!("No scan, flood or brute force among the {} flows looked at.", findings.flows_considered));
            return;
        }
        if selected.is_some() && ui.button("Show all flows").clicked() {
            action = Some(FindingsAction::Clear);
        }
        // Only the visible lines are laid out: a flood of findings stays cheap to draw.
        let row_height = ui.spacing().interact_size.y;
        egui::ScrollArea::vertical().id_salt("findings-list").max_height(110.0).show_rows(
            ui,
            row_height,
            findings.findings.len(),
            |ui, range| {
                for i in range {
                    let f = &findings.findings[i];
                    let text = egui::RichText::new(f.to_string()).color(style::ATTACK);
                    let response = ui.selectable_label(selected == Some(i), text).on_hover_text(&f.rule);
                    if response.clicked() && selected != Some(i) {
                        action = Some(FindingsAction::Show(i));
                    }
                }
            },
        );
    });
    action
}
