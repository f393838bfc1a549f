//! What was loaded: sources, rows, families and the validation report.

use crate::ingest::FlowTable;

pub fn show(ui: &mut egui::Ui, table: &FlowTable) {
    ui.heading(format!("{} flows", table.len()));
    egui::Grid::new("sources").striped(true).show(ui, |ui| {
        ui.strong("File");
        ui.strong("Dialect");
        ui.strong("Rows");
        ui.strong("Repaired cells");
        ui.end_row();
        for s in &table.sources {
            ui.label(s.path.display().to_string());
            ui.label(s.dialect.to_string());
            ui.label(s.rows.to_string());
            ui.label(s.report.columns.values().map(|c| c.total()).sum::<u64>().to_string());
            ui.end_row();
        }
    });
    let families = table.family_counts();
    if !families.is_empty() {
        ui.separator();
        egui::Grid::new("families").striped(true).show(ui, |ui| {
            for (family, n) in families {
                ui.label(family.name());
                ui.label(n.to_string());
                ui.end_row();
            }
        });
    }
}
