//! The analyst workstation (eframe with the wgpu renderer). One small view per file behind
//! the [`View`] trait, all state in [`AppState`]; loading, scoring and training run in the
//! background (see `jobs`), so the UI thread only draws. The GUI calls the library: it owns
//! no math and no persistence.

mod aggregate_table;
pub mod bench;
mod compare;
mod conversations;
mod drift;
mod endpoints;
mod examples;
mod explanation;
mod export;
mod findings;
mod flows;
mod gauge;
mod history;
mod inspector;
mod jobs;
mod labels;
mod packets;
mod pending;
mod state;
mod style;
mod train;
mod whatif;

use std::path::PathBuf;
use std::sync::Arc;

use crate::service::server::ServerLauncher;

pub use compare::ComparePanel;
pub use conversations::ConversationsView;
pub use endpoints::EndpointsView;
pub use findings::FindingsAction;
pub use flows::{FlowsView, SortColumn, TableQuery, compute_order};
pub use history::{HistoryTab, HistoryView};
pub use inspector::InspectorView;
pub use state::{AppState, LoadedFlows, ScoredFlows, Subject};
pub use train::TrainView;
pub use whatif::WhatIfView;

/// What File → Open offers: flow records (CSV, gzip-compressed CSV, Parquet) and captures.
const FLOW_FILE_EXTENSIONS: [&str; 6] = ["csv", "gz", "parquet", "pcap", "pcapng", "cap"];

/// A desktop file dialog answering "nothing chosen" sooner than this was never shown (rfd needs
/// a desktop portal, which minimal desktops and SSH sessions lack): no analyst cancels a
/// dialog within a second, while a busy machine takes a few hundred ms to find no portal.
const NO_DIALOG_ANSWER: std::time::Duration = std::time::Duration::from_secs(1);

/// The scoring server's documented port (`netvigil serve`'s default).
pub const DEFAULT_SERVER_PORT: u16 = 8750;

/// One view of the window: a tab of the menu bar. A new view is a file with a type that
/// implements this and one line in [`registry`].
pub trait View: std::any::Any {
    /// The tab's title; `AppState::view` names the visible view by it.
    fn name(&self) -> &'static str;
    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState);
    /// Called on the frame the view becomes the visible one.
    fn on_show(&mut self) {}
    /// Whether the view waits on background work (the window keeps repainting).
    fn busy(&self) -> bool {
        false
    }
}

/// Every view, in the menu bar's order.
fn registry() -> Vec<Box<dyn View>> {
    vec![
        Box::new(FlowsView::default()),
        Box::new(ConversationsView::default()),
        Box::new(EndpointsView::default()),
        Box::new(InspectorView::default()),
        Box::new(WhatIfView::default()),
        Box::new(TrainView::default()),
        Box::new(HistoryView::default()),
    ]
}

/// Opens the window, loading `files` if any were given on the command line. `launcher`
/// starts the scoring server from the Server menu (none: the menu says so).
pub fn run(files: Vec<PathBuf>, data_dir: PathBuf, launcher: Option<Arc<dyn ServerLauncher>>) -> anyhow::Result<()> {
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
            app.state.launcher = launcher;
            app.load_startup_model(&cc.egui_ctx);
            if !files.is_empty() {
                app.state.open(files, &cc.egui_ctx);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// The view of type `V` among `views` (a free function, so the state can be borrowed beside it).
fn find_view_mut<V: View>(views: &mut [Box<dyn View>]) -> Option<&mut V> {
    views.iter_mut().find_map(|v| (v.as_mut() as &mut dyn std::any::Any).downcast_mut::<V>())
}

/// The whole window: state and views.
pub struct NetVigilApp {
    pub state: AppState,
    views: Vec<Box<dyn View>>,
    examples: examples::Examples,
    show_details: Option<usize>,
    /// The path typed in the "Open a path" window, while it is open.
    pub open_path: Option<String>,
    /// The in-window file browser, while it is open.
    browser: Option<egui_file::FileDialog>,
}

impl NetVigilApp {
    pub fn new(data_dir: PathBuf) -> Self {
        NetVigilApp {
            state: AppState::new(data_dir),
            views: registry(),
            examples: examples::Examples::default(),
            show_details: None,
            open_path: None,
            browser: None,
        }
    }

    /// The view of type `V` (`None` only for a type that is not in the registry).
    pub fn view<V: View>(&self) -> Option<&V> {
        self.views.iter().find_map(|v| (v.as_ref() as &dyn std::any::Any).downcast_ref::<V>())
    }

    pub fn view_mut<V: View>(&mut self) -> Option<&mut V> {
        find_view_mut(&mut self.views)
    }

    /// Loads the registry's active model, or registers and loads the shipped default (in the
    /// background, like every task of the window).
    pub fn load_startup_model(&mut self, ctx: &egui::Context) {
        self.state.load_startup_model(ctx);
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let open = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
        let find = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
        let next = KeyboardShortcut::new(Modifiers::NONE, Key::F3);
        let prev = KeyboardShortcut::new(Modifiers::SHIFT, Key::F3);
        let back = KeyboardShortcut::new(Modifiers::ALT, Key::ArrowLeft);
        let forward = KeyboardShortcut::new(Modifiers::ALT, Key::ArrowRight);
        if ctx.input_mut(|i| i.consume_shortcut(&back)) {
            self.state.go_back();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&forward)) {
            self.state.go_forward();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&open)) {
            self.open_dialog(ctx);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&find)) {
            self.state.view = FlowsView::NAME;
            if let Some(flows) = self.view_mut::<FlowsView>() {
                flows.focus_filter();
            }
        }
        // Shift+F3 first: F3 without modifiers would also match it otherwise.
        if ctx.input_mut(|i| i.consume_shortcut(&prev)) {
            if let Some(flows) = find_view_mut::<FlowsView>(&mut self.views) {
                flows.jump_flagged(&mut self.state, false);
            }
        }
        if ctx.input_mut(|i| i.consume_shortcut(&next)) {
            if let Some(flows) = find_view_mut::<FlowsView>(&mut self.views) {
                flows.jump_flagged(&mut self.state, true);
            }
        }
    }

    fn open_dialog(&mut self, ctx: &egui::Context) {
        let asked = std::time::Instant::now();
        let picked = rfd::FileDialog::new().add_filter("Flow records and captures", &FLOW_FILE_EXTENSIONS).pick_files();
        match picked {
            Some(files) => self.state.open(files, ctx),
            None if asked.elapsed() < NO_DIALOG_ANSWER => {
                self.state.info("No desktop file dialog is available here (no XDG desktop portal): NetVigil's own browser is open instead.");
                self.open_browser();
            }
            None => {}
        }
    }

    /// Opens the in-window file browser in the folder of the last file opened (else the
    /// working directory): flow files, captures and folders, several files at once.
    pub fn open_browser(&mut self) {
        let start =
            self.state.recent.first().and_then(|p| p.parent().map(std::path::Path::to_path_buf)).filter(|d| d.is_dir());
        let start = start.or_else(|| std::env::current_dir().ok()).unwrap_or_else(|| PathBuf::from("/"));
        let filter: egui_file::Filter<PathBuf> = Box::new(|path: &std::path::Path| {
            path.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| FLOW_FILE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        });
        let mut dialog = egui_file::FileDialog::open_file()
            .title("Open flow records or captures")
            .initial_path(start)
            .multi_select(true)
            .show_new_folder(false)
            .show_rename(false)
            .show_files_filter(filter)
            .default_size([640.0, 420.0]);
        dialog.open();
        self.browser = Some(dialog);
    }

    /// Whether the in-window file browser is open.
    pub fn browser_is_open(&self) -> bool {
        self.browser.as_ref().is_some_and(|b| b.visible())
    }

    fn browser_window(&mut self, ctx: &egui::Context) {
        let Some(dialog) = &mut self.browser else { return };
        if dialog.show(ctx).selected() {
            let mut files: Vec<PathBuf> = dialog.selection().into_iter().map(std::path::Path::to_path_buf).collect();
            if files.is_empty() {
                files.extend(dialog.path().map(std::path::Path::to_path_buf));
            }
            self.browser = None;
            if files.is_empty() {
                self.state
                    .error("Nothing to open", "Select one or more flow files or captures, then Open.".to_string());
            } else {
                self.state.open(files, ctx);
            }
        } else if !dialog.visible() {
            self.browser = None;
        }
    }

    /// The "Open a path" window: a file, folder or glob typed by hand.
    fn open_path_window(&mut self, ctx: &egui::Context) {
        let Some(text) = &mut self.open_path else { return };
        let (mut open, mut close) = (false, false);
        egui::Window::new("Open a path").collapsible(false).resizable(false).show(ctx, |ui| {
            ui.label("A flow file, capture, folder or glob pattern:");
            let field = ui.add(egui::TextEdit::singleline(text).desired_width(420.0).hint_text("/path/to/flows.csv"));
            if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                open = true;
            }
            ui.horizontal(|ui| {
                open |= ui.add_enabled(!text.trim().is_empty(), egui::Button::new("Open")).clicked();
                close = ui.button("Cancel").clicked();
            });
        });
        if open && !text.trim().is_empty() {
            let path = PathBuf::from(text.trim());
            self.open_path = None;
            self.state.open(vec![path], ctx);
        } else if close {
            self.open_path = None;
        }
    }

    fn menu(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open...  (Ctrl+O)").clicked() {
                    self.open_dialog(ui.ctx());
                    ui.close();
                }
                if ui.button("Open with NetVigil's browser...").clicked() {
                    self.open_browser();
                    ui.close();
                }
                if ui.button("Open a path...").clicked() {
                    self.open_path = Some(String::new());
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
            ui.menu_button("Model", |ui| self.model_menu(ui));
            ui.menu_button("Server", |ui| self.server_menu(ui));
            ui.separator();
            let (back, forward) = (self.state.trail.can_go_back(), self.state.trail.can_go_forward());
            if ui.add_enabled(back, egui::Button::new("Back")).on_hover_text("The previous pivot (Alt+Left)").clicked()
            {
                self.state.go_back();
            }
            if ui
                .add_enabled(forward, egui::Button::new("Forward"))
                .on_hover_text("The next pivot (Alt+Right)")
                .clicked()
            {
                self.state.go_forward();
            }
            ui.separator();
            for v in &self.views {
                ui.selectable_value(&mut self.state.view, v.name(), v.name());
            }
        });
    }

    fn model_menu(&mut self, ui: &mut egui::Ui) {
        let fpr = crate::service::calibration::DEFAULT_FPR;
        let ready = self.state.model.is_some() && self.state.flows.is_some() && self.state.calibration_job.is_none();
        let text = format!("Calibrate on the open file as known-good traffic ({:.1} % false positives)", fpr * 100.0);
        if ui.add_enabled(ready, egui::Button::new(text)).clicked() {
            self.state.calibrate_on_open_files(fpr, ui.ctx());
            ui.close();
        }
        if let (Some(m), Some(flows)) = (&self.state.model, &self.state.flows) {
            if let (Some(c), Some(verdicts)) = (&m.calibration, &flows.verdicts) {
                if ui.button("Check the calibration on the open file (known-good traffic)").clicked() {
                    let check = crate::service::calibration::check(c, verdicts);
                    if check.past_target {
                        self.state.error("The calibration no longer holds on this traffic", check.message);
                    } else {
                        self.state.info(check.message);
                    }
                    ui.close();
                }
            }
        }
        if let Some(m) = &self.state.model {
            ui.weak(match &m.calibration {
                Some(c) => format!(
                    "{}: threshold {:.4}, calibrated on {} flows ({})",
                    m.name, c.threshold, c.flows, c.created_at
                ),
                None => format!("{}: threshold {:.4}, not calibrated", m.name, m.threshold),
            });
        }
    }

    fn server_menu(&mut self, ui: &mut egui::Ui) {
        let bind = self.state.server_bind;
        if let Some(server) = &self.state.server {
            ui.label(format!("serving {} on http://{}", server.model(), server.address()));
            if ui.button("Stop the scoring server").clicked() {
                self.state.stop_server();
                ui.close();
            }
        } else if ui
            .add_enabled(
                self.state.model.is_some() && self.state.launcher.is_some(),
                egui::Button::new(format!("Start the scoring server on {bind}")),
            )
            .clicked()
        {
            self.state.start_server();
            ui.close();
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(server) = &self.state.server {
                ui.label(format!("serving on http://{}", server.address()));
                ui.separator();
            }
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
                ui.label(self.state.activity.as_deref().unwrap_or(&job.label));
                // Reading stops at the next file or within a few thousand packets of a capture,
                // and what was read is shown.
                if job.is_cancelled() {
                    ui.weak("stopping; the flows read so far will be shown");
                } else if ui.small_button("Cancel").clicked() {
                    job.cancel();
                }
            } else if let Some(job) = &self.state.score_job {
                ui.separator();
                ui.spinner();
                ui.label(self.state.activity.as_deref().unwrap_or(&job.label));
                if ui.small_button("Cancel").clicked() {
                    // The job sees the flag between steps, records the batch as failed
                    // ("cancelled") and ends; its result is then dropped.
                    job.cancel();
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
        let ctx = ui.ctx().clone();
        self.state.poll_jobs(&ctx);
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.state.open(dropped, &ctx);
        }
        self.shortcuts(&ctx);
        let view_before = self.state.view;
        egui::Panel::top("menu").show(ui, |ui| self.menu(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        self.open_path_window(&ctx);
        self.browser_window(&ctx);
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
            let state = &mut self.state;
            if let Some(view) = self.views.iter_mut().find(|v| v.name() == state.view) {
                if state.view != view_before {
                    view.on_show();
                }
                view.ui(ui, state);
            }
        });
        let busy = self.state.load_job.is_some()
            || self.state.model_job.is_some()
            || self.state.score_job.is_some()
            || self.state.calibration_job.is_some()
            || self.state.packets_job.is_some()
            || self.state.export_job.is_some();
        if busy || self.views.iter().any(|v| v.busy()) {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

impl eframe::App for NetVigilApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
