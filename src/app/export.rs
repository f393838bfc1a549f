//! Export of what is displayed, in the flows view: the flows shown (after filters) with their
//! verdicts as CSV or Parquet, or the flagged ones among them as Suricata EVE alerts, written
//! in the background into `exports/` in the data folder.

use super::jobs::Job;
use super::state::AppState;
use crate::service::export::{ExportFormat, export_rows};

/// Draws the export row; `shown` are the table's visible rows.
pub fn export_bar(ui: &mut egui::Ui, state: &mut AppState, shown: &[u32], format: &mut ExportFormat) {
    let (Some(flows), Some(model)) = (&state.flows, &state.model) else { return };
    let Some(verdicts) = flows.verdicts.clone() else { return };
    let (table, findings, model) = (flows.table.clone(), flows.findings.clone(), model.name.clone());
    ui.horizontal(|ui| {
        let label = ui.label("Export");
        egui::ComboBox::from_id_salt("export-format")
            .selected_text(format.name())
            .show_ui(ui, |ui| {
                for f in ExportFormat::ALL {
                    ui.selectable_value(format, f, f.name());
                }
            })
            .response
            .labelled_by(label.id);
        let idle = state.export_job.is_none();
        if ui.add_enabled(idle && !shown.is_empty(), egui::Button::new(format!("Export the {} flows shown", shown.len()))).clicked() {
            let (rows, data_dir, format) = (shown.to_vec(), state.data_dir.clone(), *format);
            let label = format!("Exporting {} flows", rows.len());
            state.export_job = Some(Job::spawn(&state.runtime, ui.ctx(), label, move |_| {
                export_rows(&data_dir, &table, &verdicts, &findings, &rows, format, &model).map_err(|e| format!("{e:#}"))
            }));
        }
        if !idle {
            ui.spinner();
        }
    });
}

/// Polls the export job; called with the other jobs once per frame.
pub fn poll(state: &mut AppState) {
    let Some(job) = &state.export_job else { return };
    let (_, done) = job.poll_split();
    let Some(result) = done else { return };
    state.export_job = None;
    match result {
        Ok((path, records)) => {
            state.info(format!("Exported {records} records to {}", path.display()));
            state.exported = Some(path);
        }
        Err(e) => state.error("The flows could not be exported", e),
    }
}
