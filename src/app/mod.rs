//! The analyst workstation (eframe with the wgpu renderer). One small view per file behind
//! the [`View`] trait, all state in [`AppState`]; loading, scoring and training run in the
//! background (see `jobs`), so the UI thread only draws. The GUI calls the library: it owns
//! no math and no persistence.

mod compare;
mod examples;
mod findings;
mod flows;
mod gauge;
mod history;
mod inspector;
mod jobs;
mod state;
mod style;
mod train;
mod whatif;

use std::path::{Path, PathBuf};

pub use compare::ComparePanel;
pub use findings::FindingsAction;
pub use flows::{FlowsView, SortColumn, TableQuery, compute_order};
pub use history::{HistoryTab, HistoryView};
pub use inspector::InspectorView;
pub use state::{ActiveModel, AppState, LoadedFlows, Subject, ViewId};
pub use train::TrainView;
pub use whatif::WhatIfView;

/// One view of the window.
pub trait View {
    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState);
}

/// Opens the window, loading `files` if any were given on the command line.
pub fn run(files: Vec<PathBuf>, data_dir: PathBuf) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        viewport: egui::ViewportBuilder::default()
            .with_title("NetVigil")
            .with_inner_size([1280.0, 800.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "NetVigil",
        options,
        Box::new(move |cc| {
            cc.egui_ctx.set_theme(egui::ThemePreference::System);
            let mut app = NetVigilApp::new(data_dir);
            app.load_startup_model(&cc.egui_ctx);
            if !files.is_empty() {
                app.state.open(files, &cc.egui_ctx);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// Where the shipped default model lives: `$NETVIGIL_DEFAULT_MODEL`, the source checkout it
/// was built from, or `models/default` under the current folder.
pub fn default_model_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("NETVIGIL_DEFAULT_MODEL").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default")),
        Some(PathBuf::from("models/default")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("manifest.json").is_file())
}

/// The whole window: state and views.
pub struct NetVigilApp {
    pub state: AppState,
    pub flows: FlowsView,
    pub inspector: InspectorView,
    pub whatif: WhatIfView,
    pub train: TrainView,
    pub history: HistoryView,
    examples: examples::Examples,
    show_details: Option<usize>,
}

impl NetVigilApp {
    pub fn new(data_dir: PathBuf) -> Self {
        NetVigilApp {
            state: AppState::new(data_dir),
            flows: FlowsView::default(),
            inspector: InspectorView::default(),
            whatif: WhatIfView::default(),
            train: TrainView::default(),
            history: HistoryView::default(),
            examples: examples::Examples::default(),
            show_details: None,
        }
    }

    /// Loads the registry's active model, or registers and loads the shipped default.
    pub fn load_startup_model(&mut self, ctx: &egui::Context) {
        let store = match self.state.store() {
            Ok(s) => s,
            Err(e) => return self.state.error("The history database could not be opened", e),
        };
        let active = store.active_model().ok().flatten().filter(|m| m.present);
        drop(store);
        match active {
            Some(m) => self.state.load_model(m.name, PathBuf::from(m.bundle_path), ctx),
            None => match default_model_dir() {
                Some(dir) => {
                    let sha = crate::ingest::hash::sha256_file(&dir.join("manifest.json")).unwrap_or_default();
                    let registered = self
                        .state
                        .store()
                        .and_then(|mut s| s.register_model("default", &dir, &sha, None, "{}").map_err(|e| e.to_string()));
                    if let Err(e) = registered {
                        self.state.error("The default model could not be registered", e);
                    }
                    self.state.load_model("default".into(), dir, ctx);
                }
                None => self.state.info("No model found: train one in the Train view."),
            },
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let open = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
        let find = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
        let next = KeyboardShortcut::new(Modifiers::NONE, Key::F3);
        let prev = KeyboardShortcut::new(Modifiers::SHIFT, Key::F3);
        if ctx.input_mut(|i| i.consume_shortcut(&open)) {
            self.open_dialog(ctx);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&find)) {
            self.state.view = ViewId::Flows;
            self.flows.focus_filter();
        }
        // Shift+F3 first: F3 without modifiers would also match it otherwise.
        if ctx.input_mut(|i| i.consume_shortcut(&prev)) {
            self.flows.jump_flagged(&mut self.state, false);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&next)) {
            self.flows.jump_flagged(&mut self.state, true);
        }
    }

    fn open_dialog(&mut self, ctx: &egui::Context) {
        let picked = rfd::FileDialog::new().add_filter("Flow records and captures", &["csv", "pcap", "pcapng", "cap", "gz"]).pick_files();
        if let Some(files) = picked {
            self.state.open(files, ctx);
        }
    }

    fn menu(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open...  (Ctrl+O)").clicked() {
                    self.open_dialog(ui.ctx());
                    ui.close();
                }
                ui.menu_button("Open recent", |ui| {
                    if self.state.recent.is_empty() {
                        ui.weak("nothing yet");
                    }
                    for p in self.state.recent.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.state.open(vec![p], ui.ctx());
                            ui.close();
                        }
                    }
                });
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Examples", |ui| self.examples.menu(ui, &mut self.state));
            ui.separator();
            for v in ViewId::ALL {
                ui.selectable_value(&mut self.state.view, v, v.title());
            }
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.state.model {
                Some(m) => {
                    ui.label(format!("model {} (NetVigil {})", m.name, m.version));
                    ui.separator();
                    ui.label(&m.backend);
                    ui.separator();
                    // Which flow semantics the model serves, and a warning when the open file
                    // has others.
                    let input = self.state.flows.as_ref().map(|f| f.table.semantics()).unwrap_or_default();
                    ui.label(m.manifest.semantics_note(&input));
                }
                None => {
                    ui.label(if self.state.model_job.is_some() { "loading model..." } else { "no model" });
                }
            }
            if let Some(rate) = self.state.flows.as_ref().and_then(|f| f.flows_per_s) {
                ui.separator();
                ui.label(format!("last batch {rate:.0} flows/s"));
            }
            if let Some(job) = &self.state.load_job {
                ui.separator();
                ui.spinner();
                ui.label(&job.label);
                if ui.small_button("Cancel").clicked() {
                    job.cancel();
                    self.state.load_job = None;
                }
            }
        });
    }

    fn notices(&mut self, ui: &mut egui::Ui) {
        let mut dismiss = None;
        for (i, n) in self.state.notices.iter().enumerate() {
            ui.horizontal(|ui| {
                let color = if n.is_error { ui.visuals().error_fg_color } else { ui.visuals().text_color() };
                ui.colored_label(color, &n.summary);
                if n.details.is_some() && ui.small_button("Details").clicked() {
                    self.show_details = if self.show_details == Some(i) { None } else { Some(i) };
                }
                if ui.small_button("x").clicked() {
                    dismiss = Some(i);
                }
            });
            if self.show_details == Some(i) {
                if let Some(d) = &n.details {
                    ui.label(egui::RichText::new(d).monospace());
                }
            }
        }
        if let Some(i) = dismiss {
            self.state.notices.remove(i);
            self.show_details = None;
        }
    }

    /// Draws one frame into `ui` (the GUI tests drive this directly).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.state.poll_jobs();
        let ctx = ui.ctx().clone();
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.state.open(dropped, &ctx);
        }
        self.shortcuts(&ctx);
        let view_before = self.state.view;
        egui::Panel::top("menu").show(ui, |ui| self.menu(ui));
        if self.state.view == ViewId::History && view_before != ViewId::History {
            self.history.invalidate();
        }
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if !self.state.notices.is_empty() {
            egui::Panel::top("notices").show(ui, |ui| self.notices(ui));
        }
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if let Some(job) = &self.state.load_job {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("{}...", job.label));
                });
            }
            match self.state.view {
                ViewId::Flows => self.flows.ui(ui, &mut self.state),
                ViewId::Inspector => self.inspector.ui(ui, &mut self.state),
                ViewId::WhatIf => self.whatif.ui(ui, &mut self.state),
                ViewId::Train => self.train.ui(ui, &mut self.state),
                ViewId::History => self.history.ui(ui, &mut self.state),
            }
        });
        if self.state.load_job.is_some() || self.state.model_job.is_some() || self.train.is_running() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

impl eframe::App for NetVigilApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
