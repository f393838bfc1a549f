//! The analyst's own labels, in the flows view: label the flows on screen (after filters) as
//! benign or an attack family, then fine-tune the active model on them. The labelled flows are
//! written as a CSV (atomically) into the data folder, so the fine-tuning run records them
//! as its dataset like any other file, and the Train view runs it (progress, cancel, results).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::state::AppState;
use crate::features::N_FEATURES;
use crate::ingest::{AttackFamily, FlowLabel, FlowTable, SourceFile};

/// Draws the labelling row under the filters; `shown` are the table's visible rows.
pub fn labels_bar(ui: &mut egui::Ui, state: &mut AppState, shown: &[u32], family: &mut AttackFamily) {
    ui.horizontal(|ui| {
        let label = ui.label("Label");
        egui::ComboBox::from_id_salt("analyst-label")
            .selected_text(family.name())
            .show_ui(ui, |ui| {
                for f in AttackFamily::CLASSES {
                    ui.selectable_value(family, f, f.name());
                }
            })
            .response
            .labelled_by(label.id);
        if ui.add_enabled(!shown.is_empty(), egui::Button::new(format!("the {} flows shown", shown.len()))).clicked() {
            for &r in shown {
                state.labels.insert(r, *family);
            }
        }
        if state.labels.is_empty() {
            ui.weak("(your labels fine-tune the active model to this network)");
            return;
        }
        ui.separator();
        ui.label(format!("{} flows labelled by you", state.labels.len()));
        if ui.small_button("Forget them").clicked() {
            state.labels.clear();
        }
        let ready = state.model.is_some();
        if ui.add_enabled(ready, egui::Button::new("Fine-tune the active model on them")).clicked() {
            match write_labels(state) {
                Ok(path) => {
                    state.finetune_request = Some(vec![path]);
                    state.view = super::TrainView::NAME;
                }
                Err(e) => state.error("Your labels could not be written", format!("{e:#}")),
            }
        }
    });
}

/// Writes the labelled flows to `labels/labels-<time>.csv` in the data folder.
fn write_labels(state: &AppState) -> anyhow::Result<PathBuf> {
    let flows = state.flows.as_ref().ok_or_else(|| anyhow::anyhow!("no flows are open"))?;
    let table = labelled_table(&flows.table, &state.labels);
    let dir = state.data_dir.join("labels");
    std::fs::create_dir_all(&dir)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let path = dir.join(format!("labels-{now}.csv"));
    crate::ingest::export::write_table(&table, &path)?;
    Ok(path)
}

/// The rows of `table` the analyst labelled, with those labels.
fn labelled_table(table: &FlowTable, labels: &BTreeMap<u32, AttackFamily>) -> FlowTable {
    let mut features = Vec::with_capacity(labels.len() * N_FEATURES);
    let mut meta = Vec::with_capacity(labels.len());
    let mut flow_labels = Vec::with_capacity(labels.len());
    for (&r, &family) in labels {
        let r = r as usize;
        features.extend_from_slice(table.row(r));
        let mut m = table.meta()[r].clone();
        m.source = 0;
        meta.push(m);
        flow_labels.push(FlowLabel { raw: family.name().into(), family });
    }
    let source = SourceFile::of_records(
        PathBuf::from("analyst labels"),
        crate::ingest::Dialect::NetVigilExport,
        labels.len(),
        Default::default(),
    );
    FlowTable::from_parts(features, meta, Some(flow_labels.into()), vec![source])
}
