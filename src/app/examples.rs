//! Examples: one real flow per attack family, from the corrected CICIDS2017 sample shipped in
//! `data/` (compiled into the binary so the menu works anywhere), opened in the inspector in
//! one click.

use std::path::PathBuf;

use super::state::{AppState, Subject};
use crate::features::N_FEATURES;
use crate::ingest::{AttackFamily, FlowTable, ReadOptions, read_file};

const SAMPLE: &[u8] = include_bytes!("../../data/cicids2017-sample.csv");

/// The sample flows, read once.
#[derive(Default)]
pub struct Examples {
    table: Option<Result<FlowTable, String>>,
}

impl Examples {
    fn table(&mut self, state: &AppState) -> Result<&FlowTable, String> {
        if self.table.is_none() {
            self.table = Some(read_sample(state));
        }
        match self.table.as_ref() {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(e.clone()),
            None => Err("no sample".into()),
        }
    }

    /// The first sample flow of `family`.
    pub fn flow(&mut self, state: &AppState, family: AttackFamily) -> Result<Subject, String> {
        let table = self.table(state)?;
        let labels = table.labels().ok_or("the sample has no labels")?;
        let r =
            labels.iter().position(|l| l.family == family).ok_or(format!("no {} flow in the sample", family.name()))?;
        let mut row = [0.0; N_FEATURES];
        row.copy_from_slice(table.row(r));
        Ok(Subject {
            row: None,
            original: row,
            edited: row,
            meta: table.meta()[r].clone(),
            label: Some(labels[r].raw.to_string()),
            origin: format!("example: {} (CICIDS2017, corrected)", labels[r].raw),
            evidence: Vec::new(),
        })
    }

    /// The Examples menu.
    pub fn menu(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        for family in AttackFamily::ALL {
            if ui.button(family.name()).clicked() {
                match self.flow(state, family) {
                    Ok(subject) => {
                        state.subject = Some(subject);
                        state.view = super::InspectorView::NAME;
                    }
                    Err(e) => state.error("The example could not be loaded", e),
                }
                ui.close();
            }
        }
    }
}

/// The embedded sample goes through the same reader as any file.
fn read_sample(state: &AppState) -> Result<FlowTable, String> {
    let path: PathBuf = state.data_dir.join("examples-cicids2017-sample.csv");
    std::fs::create_dir_all(&state.data_dir).map_err(|e| e.to_string())?;
    crate::ingest::export::write_atomically(&path, |w| std::io::Write::write_all(w, SAMPLE))
        .map_err(|e| e.to_string())?;
    read_file(&path, &ReadOptions::default()).map_err(|e| e.to_string())
}
