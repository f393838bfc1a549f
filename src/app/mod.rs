//! The workstation window (eframe, wgpu renderer). This first version opens files by menu,
//! drop or command line, reads them off the UI thread and shows what was loaded; the
//! analyst views (flows table, inspector, training) build on the same state.

mod summary;

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};

use crate::ingest::{FlowTable, ReadOptions, read_flows};

/// Opens the window, loading `files` if any were given on the command line.
pub fn run(files: Vec<PathBuf>, data_dir: PathBuf) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        viewport: egui::ViewportBuilder::default()
            .with_title("NetVigil")
            .with_inner_size([1100.0, 720.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "NetVigil",
        options,
        Box::new(move |cc| {
            let mut app = NetVigilApp::new(data_dir);
            if !files.is_empty() {
                app.open(files, cc.egui_ctx.clone());
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// All state of the window, in one place.
pub struct NetVigilApp {
    /// Where the history database and result files live (shown in the status bar).
    data_dir: PathBuf,
    table: Option<FlowTable>,
    loading: Option<(Vec<PathBuf>, Receiver<Result<FlowTable, String>>)>,
    error: Option<String>,
}

impl NetVigilApp {
    pub fn new(data_dir: PathBuf) -> Self {
        NetVigilApp { data_dir, table: None, loading: None, error: None }
    }

    /// Reads `files` on a background thread; the result arrives in a later frame.
    pub fn open(&mut self, files: Vec<PathBuf>, ctx: egui::Context) {
        let (tx, rx) = channel();
        let paths = files.clone();
        std::thread::spawn(move || {
            let result = read_flows(&paths, &ReadOptions::default()).map_err(|e| e.to_string());
            let _ = tx.send(result);
            ctx.request_repaint();
        });
        self.error = None;
        self.loading = Some((files, rx));
    }

    pub fn table(&self) -> Option<&FlowTable> {
        self.table.as_ref()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    fn poll_loading(&mut self) {
        let Some((_, rx)) = &self.loading else { return };
        if let Ok(result) = rx.try_recv() {
            match result {
                Ok(table) => self.table = Some(table),
                Err(e) => self.error = Some(e),
            }
            self.loading = None;
        }
    }

    fn menu(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open…").clicked() {
                    let picked = rfd::FileDialog::new().add_filter("Flow records", &["csv"]).pick_files();
                    if let Some(files) = picked {
                        self.open(files, ui.ctx().clone());
                    }
                }
            });
        });
    }

    /// Draws one frame into `ui` (also used by the GUI tests).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.poll_loading();
        let dropped: Vec<PathBuf> =
            ui.ctx().input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.open(dropped, ui.ctx().clone());
        }
        egui::Panel::top("menu").show(ui, |ui| self.menu(ui));
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                let flows = self.table.as_ref().map_or(0, FlowTable::len);
                ui.label(format!("{flows} flows loaded"));
                ui.separator();
                ui.label(format!("history: {}", self.data_dir.display()));
            });
        });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if let Some((files, _)) = &self.loading {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Reading {} file(s)…", files.len()));
                });
            }
            match &self.table {
                Some(table) => summary::show(ui, table),
                None if self.loading.is_none() => {
                    ui.label("Open flow records with File → Open, or drop a CSV file on this window.");
                }
                None => {}
            }
        });
    }
}

impl eframe::App for NetVigilApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
