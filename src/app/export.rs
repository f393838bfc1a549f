//! Export of what is displayed, in the flows view: the flows shown (after filters) with their
//! verdicts as CSV or Parquet, or the flagged ones among them as Suricata EVE alerts, written
//! in the background into `exports/` in the data folder, or where the analyst chooses with
//! "Save as..." (the desktop's save dialog, or NetVigil's own where no portal answers).

use std::path::PathBuf;
use std::sync::Arc;

use super::jobs::Job;
use super::state::AppState;
use crate::detect::Findings;
use crate::ingest::FlowTable;
use crate::service::export::{ExportFormat, ExportTarget, export_rows};

/// An export waiting for the analyst to choose its file in NetVigil's save dialog.
pub struct PendingSave {
    rows: Vec<u32>,
    format: ExportFormat,
    dialog: egui_file::FileDialog,
}

/// Draws the export row; `shown` are the table's visible rows.
pub fn export_bar(ui: &mut egui::Ui, state: &mut AppState, shown: &[u32], format: &mut ExportFormat) {
    let (Some(flows), Some(_)) = (&state.flows, &state.model) else { return };
    if flows.verdicts.is_none() {
        return;
    }
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
        let idle = state.export_job.is_none() && state.pending_save.is_none();
        if ui
            .add_enabled(
                idle && !shown.is_empty(),
                egui::Button::new(format!("Export the {} flows shown", shown.len())),
            )
            .clicked()
        {
            start(state, ui.ctx(), ExportTarget::DataFolder(state.data_dir.clone()), shown.to_vec(), *format);
        }
        if ui.add_enabled(idle && !shown.is_empty(), egui::Button::new("Save as...")).clicked() {
            save_as(state, ui.ctx(), shown.to_vec(), *format);
        }
        if state.export_job.is_some() {
            ui.spinner();
        }
    });
    save_dialog(state, ui.ctx());
}

fn start(state: &mut AppState, ctx: &egui::Context, target: ExportTarget, rows: Vec<u32>, format: ExportFormat) {
    let (Some(flows), Some(model)) = (&state.flows, &state.model) else { return };
    let Some(verdicts) = flows.verdicts.clone() else { return };
    let (table, findings, model): (Arc<FlowTable>, Arc<Findings>, _) =
        (flows.table.clone(), flows.findings.clone(), model.clone());
    let label = format!("Exporting {} flows", rows.len());
    state.export_job = Some(Job::spawn(&state.runtime, ctx, label, move |job| {
        job.run_task(|task| export_rows(&target, &table, (&model, &verdicts), &findings, &rows, format, task))
            .map_err(|e| format!("{e:#}"))
    }));
}

/// The desktop's save dialog; where none can be shown (no portal: rfd returns at once),
/// NetVigil's own, in the window.
fn save_as(state: &mut AppState, ctx: &egui::Context, rows: Vec<u32>, format: ExportFormat) {
    let name = format!("flows-{}.{}", rows.len(), format.extension());
    let asked = std::time::Instant::now();
    match rfd::FileDialog::new().set_file_name(&name).save_file() {
        Some(path) => start(state, ctx, ExportTarget::File(path), rows, format),
        None if asked.elapsed() < super::NO_DIALOG_ANSWER => {
            let start_dir = state.data_dir.join("exports");
            let _ = std::fs::create_dir_all(&start_dir);
            let mut dialog = egui_file::FileDialog::save_file()
                .title("Save the flows shown")
                .initial_path(start_dir)
                .default_filename(name)
                .show_rename(false)
                .default_size([640.0, 420.0]);
            dialog.open();
            state.pending_save = Some(PendingSave { rows, format, dialog });
        }
        None => {}
    }
}

fn save_dialog(state: &mut AppState, ctx: &egui::Context) {
    let Some(pending) = &mut state.pending_save else { return };
    if pending.dialog.show(ctx).selected() {
        let path: Option<PathBuf> = pending.dialog.path().map(std::path::Path::to_path_buf);
        let Some(PendingSave { rows, format, .. }) = state.pending_save.take() else { return };
        if let Some(path) = path {
            start(state, ctx, ExportTarget::File(path), rows, format);
        }
    } else if !pending.dialog.visible() {
        state.pending_save = None;
    }
}

/// Polls the export job; called with the other jobs once per frame.
pub fn poll(state: &mut AppState) {
    let Some(result) = super::jobs::take_finished(&mut state.export_job) else { return };
    match result {
        Ok((path, records)) => {
            state.info(format!("Exported {records} records to {}", path.display()));
            state.exported = Some(path);
        }
        Err(e) => state.error("The flows could not be exported", e),
    }
}
