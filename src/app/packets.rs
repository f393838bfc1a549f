//! The packets behind the flows on screen, in the flows view: "Save their packets" writes the
//! packets of the flows shown (after filters) that came from a capture to a pcap per capture in
//! the data folder, in the background; "Open in Wireshark" appears where Wireshark is installed.

use super::jobs::Job;
use super::state::AppState;
use crate::ingest::Dialect;
use crate::service;

/// Draws the packets row; `shown` are the table's visible rows.
pub fn packets_bar(ui: &mut egui::Ui, state: &mut AppState, shown: &[u32]) {
    let Some(flows) = &state.flows else { return };
    if !flows.table.sources.iter().any(|s| s.dialect == Dialect::Capture) {
        return;
    }
    let table = flows.table.clone();
    ui.horizontal(|ui| {
        ui.label("Packets");
        let idle = state.packets_job.is_none();
        if ui
            .add_enabled(
                idle && !shown.is_empty(),
                egui::Button::new(format!("Save the packets of the {} flows shown (pcap)", shown.len())),
            )
            .clicked()
        {
            let (rows, data_dir) = (shown.to_vec(), state.data_dir.clone());
            let label = format!("Writing the packets of {} flows", rows.len());
            state.packets_job = Some(Job::spawn(&state.runtime, ui.ctx(), label, move |job| {
                job.run_task(|task| service::packets::carve_rows(&data_dir, &table, &rows, task))
                    .map_err(|e| format!("{e:#}"))
            }));
        }
        if !idle {
            ui.spinner();
        }
        if let (Some(first), Some(wireshark)) = (state.carved.first(), service::packets::wireshark()) {
            if ui.button("Open in Wireshark").clicked() {
                if let Err(e) = std::process::Command::new(wireshark).args(&state.carved).spawn() {
                    state.error(format!("Wireshark could not be started on {}", first.display()), e.to_string());
                }
            }
        }
    });
}

/// Polls the carving job; called with the other jobs once per frame.
pub fn poll(state: &mut AppState) {
    let Some(result) = super::jobs::take_finished(&mut state.packets_job) else { return };
    match result {
        Ok(carved) => {
            let written: u64 = carved.files.iter().map(|(_, r)| r.frames_written).sum();
            let names: Vec<String> = carved.files.iter().map(|(p, _)| p.display().to_string()).collect();
            let skipped = if carved.without_capture > 0 {
                format!(" ({} flows from flow records have no packets)", carved.without_capture)
            } else {
                String::new()
            };
            state.info(format!("Wrote {written} packets to {}{skipped}", names.join(", ")));
            state.carved = carved.files.into_iter().map(|(p, _)| p).collect();
        }
        Err(e) => state.error("The packets could not be written", e),
    }
}
