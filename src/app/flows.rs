//! The flows view: a virtual table of every flow (only visible rows are laid out, so a
//! million flows scroll smoothly), filter and sort computed off the UI thread, a summary bar,
//! a histogram of P(attack), flagged flows over time, and the host-level findings (a click
//! on one shows only its flows).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Plot};

use super::View;
use super::findings::{FindingsAction, findings_list};
use super::pending::Pending;
use super::state::AppState;
use super::style;
use crate::features::{FEATURES, FeatureId};
use crate::ingest::AttackFamily;
use crate::ingest::timestamp::format_timestamp;
pub use crate::service::flow_query::{SortColumn, TableQuery, compute_order};
use crate::service::flow_query::{Summary, summarise};
use crate::service::traffic::{Pivot, PivotFilter, TimeRange, protocol_name};

pub struct FlowsView {
    pub query: TableQuery,
    /// Visible rows, in display order.
    order: Arc<Vec<u32>>,
    computed: Option<(u64, TableQuery)>,
    pending: Option<(u64, TableQuery, Receiver<Vec<u32>>)>,
    /// Counts, histogram and timeline of the loaded flows, by generation (made on a worker).
    summary: Pending<u64, Arc<Summary>>,
    /// The feature shown in the last column.
    pub feature_column: usize,
    scroll_to: Option<usize>,
    focus_filter: bool,
    /// The feature whose training and batch distributions the drift panel plots.
    pub drift_feature: Option<usize>,
    /// The family the analyst labels flows as.
    pub label_family: AttackFamily,
    /// The format of "Export the flows shown".
    pub export_format: crate::service::export::ExportFormat,
    /// Where a drag across the timeline started (seconds since the epoch).
    drag_from: Option<f64>,
    /// Where the timeline and the histogram were drawn last (for tests that drag across
    /// them).
    timeline_rect: Option<egui::Rect>,
    histogram_rect: Option<egui::Rect>,
}

impl Default for FlowsView {
    fn default() -> Self {
        FlowsView {
            query: TableQuery::default(),
            order: Arc::new(Vec::new()),
            computed: None,
            pending: None,
            summary: Pending::default(),
            feature_column: FeatureId::FlowDuration as usize,
            scroll_to: None,
            focus_filter: false,
            drift_feature: None,
            label_family: AttackFamily::Benign,
            export_format: crate::service::export::ExportFormat::Csv,
            drag_from: None,
            timeline_rect: None,
            histogram_rect: None,
        }
    }
}

const HISTOGRAM_BINS: usize = 20;
const TIMELINE_BINS: usize = 60;

impl FlowsView {
    /// Rows currently shown, in order.
    pub fn visible_rows(&self) -> &[u32] {
        &self.order
    }

    /// Whether the visible rows and the summary reflect the current query and data.
    pub fn is_settled(&self) -> bool {
        let summarised = self.computed.as_ref().is_none_or(|(generation, _)| self.summary.is_current(generation));
        self.pending.is_none() && summarised
    }

    /// Where the timeline was drawn in the last frame.
    pub fn timeline_rect(&self) -> Option<egui::Rect> {
        self.timeline_rect
    }

    /// Where the P(attack) histogram was drawn in the last frame.
    pub fn histogram_rect(&self) -> Option<egui::Rect> {
        self.histogram_rect
    }

    pub fn focus_filter(&mut self) {
        self.focus_filter = true;
    }

    /// Selects the next (or previous) flagged flow after the current selection, in table
    /// order, and opens it in the inspector.
    pub fn jump_flagged(&mut self, state: &mut AppState, forward: bool) {
        let current = state.subject.as_ref().and_then(|s| s.row);
        let pos = current.and_then(|r| self.order.iter().position(|&x| x as usize == r));
        let n = self.order.len();
        if n == 0 {
            return;
        }
        for step in 1..=n {
            let i = match (pos, forward) {
                (Some(p), true) => (p + step) % n,
                (Some(p), false) => (p + n - step % n) % n,
                (None, true) => step - 1,
                (None, false) => n - step,
            };
            let row = self.order[i] as usize;
            if state.verdict(row).is_some_and(|v| v.is_attack()) {
                state.select_row(row);
                state.view = super::InspectorView::NAME;
                self.scroll_to = Some(i);
                return;
            }
        }
        state.info("No flagged flow in the table.");
    }

    /// Starts recomputing the visible rows when the data or the query changed; adopts a
    /// finished computation.
    fn refresh(&mut self, state: &AppState) {
        if let Some((generation, query, rx)) = &self.pending {
            if let Ok(order) = rx.try_recv() {
                self.order = Arc::new(order);
                self.computed = Some((*generation, query.clone()));
                self.pending = None;
            }
        }
        let Some(flows) = &state.flows else {
            self.order = Arc::new(Vec::new());
            self.computed = None;
            return;
        };
        // Pivots are made in other views too (conversations, endpoints) and kept with the
        // state, where Back and Forward move through them; a finding's is by its rows.
        match &state.pivot {
            Some(PivotFilter { pivot: Pivot::Finding { index, .. }, .. }) => {
                self.query.finding = Some(*index);
                self.query.pivot = None;
            }
            other => {
                self.query.finding = None;
                self.query.pivot = other.clone();
            }
        }
        self.query.time_range = state.time_range;
        let wanted = (state.generation, self.query.clone());
        let up_to_date = self.computed.as_ref() == Some(&wanted);
        let in_flight = self.pending.as_ref().is_some_and(|(g, q, _)| (*g, q.clone()) == wanted);
        if up_to_date || in_flight {
            return;
        }
        let (tx, rx) = channel();
        let table = flows.table.clone();
        let verdicts = flows.verdicts.clone();
        let findings = flows.findings.clone();
        let query = self.query.clone();
        let ctx_query = query.clone();
        state.runtime.spawn_blocking(move || {
            let order = compute_order(&table, verdicts.as_deref().map(|v| v.as_slice()), Some(&findings), &query);
            let _ = tx.send(order);
        });
        self.pending = Some((state.generation, ctx_query, rx));
    }

    /// The summary of the flows on screen, prepared on a worker (the previous one meanwhile).
    fn summary(&mut self, state: &AppState) -> Option<Arc<Summary>> {
        let flows = state.flows.as_ref()?;
        let (table, verdicts) = (flows.table.clone(), flows.verdicts.clone());
        self.summary.update(&state.generation, &state.runtime, move || {
            Arc::new(summarise(&table, verdicts.as_deref().map(|v| v.as_slice()), HISTOGRAM_BINS, TIMELINE_BINS))
        });
        self.summary.held().map(|(_, s)| s.clone())
    }

    fn filter_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let filter = ui.label("Filter");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.query.text)
                        .hint_text("address, port, label, family")
                        .desired_width(220.0),
                )
                .labelled_by(filter.id);
            if std::mem::take(&mut self.focus_filter) {
                edit.request_focus();
            }
            let from = ui.label("P(attack)");
            ui.add(egui::DragValue::new(&mut self.query.min_score).range(0.0..=1.0).speed(0.01)).labelled_by(from.id);
            let to = ui.label("to");
            ui.add(egui::DragValue::new(&mut self.query.max_score).range(0.0..=1.0).speed(0.01)).labelled_by(to.id);
            let family = ui.label("Family");
            egui::ComboBox::from_id_salt("family-filter")
                .selected_text(self.query.family.map_or("all families", |f| f.name()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.query.family, None, "all families");
                    // `attack` (unknown family) is what unfamiliar flagged flows are called.
                    for f in AttackFamily::ALL {
                        ui.selectable_value(&mut self.query.family, Some(f), f.name());
                    }
                })
                .response
                .labelled_by(family.id);
            ui.checkbox(&mut self.query.unfamiliar_only, "unfamiliar only")
                .on_hover_text("Flows far from everything the model was trained on: its verdict on them is a guess");
            style::feature_picker(ui, "Column", "feature-column", &mut self.feature_column);
            if ui.button("Clear").clicked() {
                self.query =
                    TableQuery { sort: self.query.sort, descending: self.query.descending, ..TableQuery::default() };
            }
        });
    }

    fn summary_bar(&mut self, ui: &mut egui::Ui, state: &AppState) {
        let visible = self.order.len();
        let Some(s) = self.summary(state) else { return };
        let total = state.flows.as_ref().map_or(0, |f| f.table.len());
        let partial = state.flows.as_ref().is_some_and(|f| f.partial);
        ui.horizontal_wrapped(|ui| {
            if partial {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    "Still reading: the first flows so far (open ones up to now); the whole replaces them when read",
                );
                ui.separator();
            }
            ui.strong(format!("{total} flows"));
            if visible != total {
                ui.label(format!("({visible} shown)"));
            }
            ui.separator();
            ui.colored_label(style::ATTACK, format!("{} flagged", s.flagged));
            if let Some(m) = &state.model {
                let how = match &m.calibration {
                    Some(c) => format!("calibrated for {:.2} % on known-good traffic", c.target_fpr * 100.0),
                    None => "the model's own".to_string(),
                };
                ui.weak(format!("at P(attack) ≥ {:.4} ({how})", m.threshold));
            }
            if s.unfamiliar > 0 {
                ui.separator();
                ui.label(format!("{} unfamiliar", s.unfamiliar));
            }
            for (family, n) in &s.per_family {
                ui.separator();
                ui.colored_label(style::family_color(*family), format!("{}: {n}", family.name()));
            }
        });
    }

    fn plots(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let threshold = threshold_of(state);
        let Some(s) = self.summary(state) else { return };
        if s.histogram.iter().all(|&n| n == 0) {
            return;
        }
        let width = (ui.available_width() / 2.0 - 8.0).max(120.0);
        let histogram: Vec<Bar> = s
            .histogram
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let x = (i as f64 + 0.5) / HISTOGRAM_BINS as f64;
                Bar::new(x, n as f64).width(1.0 / HISTOGRAM_BINS as f64).fill(style::score_color(x as f32, threshold))
            })
            .collect();
        let bin = s.timeline.get(1).map_or(1.0, |b| b.0) - s.timeline.first().map_or(0.0, |b| b.0);
        // Unflagged flows in grey, then the flagged ones of each family stacked on them.
        let bars =
            |count: &dyn Fn(&(f64, usize, [usize; AttackFamily::COUNT])) -> usize, fill: egui::Color32| -> Vec<Bar> {
                s.timeline
                    .iter()
                    .map(|b| Bar::new(b.0, count(b) as f64).width(bin.max(1e-6)).fill(fill).stroke(egui::Stroke::NONE))
                    .collect()
            };
        // The summary bar above names the families in these colours (the chart's legend).
        let mut charts = vec![BarChart::new(
            "not flagged",
            bars(&|b| b.1 - b.2.iter().sum::<usize>(), style::family_color(AttackFamily::Benign)),
        )];
        for f in AttackFamily::ALL {
            if s.timeline.iter().any(|b| b.2[f.index()] > 0) {
                let below: Vec<&BarChart> = charts.iter().collect();
                let chart = BarChart::new(f.name(), bars(&|b| b.2[f.index()], style::family_color(f))).stack_on(&below);
                charts.push(chart);
            }
        }
        let axis = s.timeline_axis.clone();
        let selected = state.time_range;
        let mut dragged = None;
        ui.horizontal(|ui| {
            let hist = Plot::new("score-histogram")
                .height(110.0)
                .width(width)
                .allow_zoom(false)
                .allow_drag(false)
                .allow_scroll(false)
                .allow_double_click_reset(false)
                .x_axis_label("P(attack); double-click a bar for its flows")
                .show(ui, |p| p.bar_chart(BarChart::new("flows", histogram)));
            self.histogram_rect = Some(hist.response.rect);
            if hist.response.double_clicked() {
                if let Some(pos) = hist.response.interact_pointer_pos() {
                    let x = hist.transform.value_from_position(pos).x;
                    let bin = ((x * HISTOGRAM_BINS as f64).floor().max(0.0) as usize).min(HISTOGRAM_BINS - 1);
                    self.query.min_score = bin as f32 / HISTOGRAM_BINS as f32;
                    self.query.max_score = (bin + 1) as f32 / HISTOGRAM_BINS as f32;
                }
            }
            let shown = Plot::new("flagged-timeline")
                .height(110.0)
                .width(width)
                .allow_zoom(false)
                .allow_drag(false)
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .allow_double_click_reset(false)
                .x_axis_label(axis)
                .x_axis_formatter(|mark, range| clock_time(mark.value, range.end() - range.start() > 86_400.0))
                .show(ui, |p| {
                    for chart in charts {
                        p.bar_chart(chart);
                    }
                });
            dragged = self.timeline_drag(ui, &shown, selected);
        });
        if let Some(range) = dragged {
            state.set_time_range(Some(range));
        }
    }

    /// Dragging across the timeline selects a span of start times; the span set is shaded.
    fn timeline_drag(
        &mut self,
        ui: &egui::Ui,
        shown: &egui_plot::PlotResponse<()>,
        selected: Option<TimeRange>,
    ) -> Option<TimeRange> {
        let to_us = |x: f64| (x * 1e6) as i64;
        let at = |pos: egui::Pos2| shown.transform.value_from_position(pos).x;
        let response = &shown.response;
        self.timeline_rect = Some(response.rect);
        if response.drag_started() {
            self.drag_from = response.interact_pointer_pos().map(at);
        }
        let now = response.interact_pointer_pos().map(at);
        let shade = |a: f64, b: f64| {
            let (xa, xb) = (shown.transform.position_from_point_x(a), shown.transform.position_from_point_x(b));
            let rect = egui::Rect::from_x_y_ranges(xa.min(xb)..=xa.max(xb), response.rect.y_range());
            ui.painter().with_clip_rect(response.rect).rect_filled(
                rect,
                0.0,
                egui::Color32::from_rgba_unmultiplied(80, 130, 220, 50),
            );
        };
        if let Some(range) = selected {
            shade(range.start_us as f64 / 1e6, range.end_us as f64 / 1e6);
        }
        match (self.drag_from, now) {
            (Some(from), Some(to)) if response.dragged() => {
                shade(from, to);
                None
            }
            (Some(from), Some(to)) if response.drag_stopped() => {
                self.drag_from = None;
                Some(TimeRange::between(to_us(from), to_us(to)))
            }
            _ => None,
        }
    }

    fn table(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(flows) = &state.flows else { return };
        let table = flows.table.clone();
        let verdicts = flows.verdicts.clone();
        let threshold = threshold_of(state);
        let order = self.order.clone();
        let selected = state.subject.as_ref().and_then(|s| s.row);
        let mut clicked = None;
        let mut sort_clicked = None;
        let mut pivot = None;
        // Several files open as one session: a column says which file (and line or first
        // packet) each flow came from.
        let files: Option<Vec<String>> =
            (table.sources.len() > 1).then(|| table.sources.iter().map(|s| s.file_name()).collect());
        let mut builder =
            TableBuilder::new(ui).striped(true).resizable(true).sense(egui::Sense::click()).column(Column::exact(70.0));
        if files.is_some() {
            builder = builder.column(Column::initial(170.0).at_least(60.0));
        }
        builder = builder
            .column(Column::initial(170.0).at_least(80.0))
            .column(Column::initial(170.0).at_least(80.0))
            .column(Column::exact(50.0))
            .column(Column::initial(150.0))
            .column(Column::initial(150.0))
            .column(Column::initial(100.0))
            .column(Column::exact(75.0))
            .column(Column::remainder().at_least(90.0));
        if let Some(i) = self.scroll_to.take() {
            builder = builder.scroll_to_row(i, Some(egui::Align::Center));
        }
        let mut headers = vec![("#", SortColumn::Row)];
        if files.is_some() {
            headers.push(("File:line", SortColumn::File));
        }
        headers.extend([
            ("Source", SortColumn::Source),
            ("Destination", SortColumn::Destination),
            ("Proto", SortColumn::Protocol),
            ("Start", SortColumn::Start),
            ("Label", SortColumn::Label),
            ("Verdict", SortColumn::Predicted),
            ("P(attack)", SortColumn::PAttack),
        ]);
        let feature_col = self.feature_column;
        let query = self.query.clone();
        builder
            .header(22.0, |mut header| {
                let all = headers
                    .iter()
                    .copied()
                    .chain(std::iter::once((FEATURES[feature_col].name, SortColumn::Feature(feature_col))));
                for (title, col) in all {
                    header.col(|ui| {
                        let arrow = match (query.sort == col, query.descending) {
                            (true, false) => " (asc)",
                            (true, true) => " (desc)",
                            _ => "",
                        };
                        if ui.button(format!("{title}{arrow}")).clicked() {
                            sort_clicked = Some(col);
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, order.len(), |mut row| {
                    let r = order[row.index()] as usize;
                    let meta = &table.meta()[r];
                    let verdict = verdicts.as_ref().and_then(|v| v.get(r)).copied();
                    row.set_selected(selected == Some(r));
                    let tint = verdict.map(|v| style::row_tint(v.p_attack, threshold));
                    let cell = |row: &mut egui_extras::TableRow, text: String| {
                        row.col(|ui| {
                            if let Some(t) = tint {
                                ui.painter().rect_filled(ui.max_rect(), 0.0, t);
                            }
                            ui.add(egui::Label::new(text).truncate().selectable(false));
                        })
                        .1
                    };
                    cell(&mut row, (r + 1).to_string());
                    if let Some(files) = &files {
                        cell(&mut row, format!("{}:{}", files[meta.source as usize], meta.line));
                    }
                    for (ip, port) in [(meta.src_ip(), meta.src_port), (meta.dst_ip(), meta.dst_port)] {
                        cell(&mut row, endpoint(ip, port))
                            .context_menu(|ui| pivot = pivot.take().or(address_menu(ui, ip, port)));
                    }
                    cell(&mut row, protocol_name(meta.protocol));
                    cell(&mut row, meta.timestamp_us().map(format_timestamp).unwrap_or_default());
                    cell(&mut row, table.labels().map(|l| l[r].raw.to_string()).unwrap_or_default());
                    cell(&mut row, verdict.map(|v| v.label()).unwrap_or_else(|| "-".into()));
                    cell(&mut row, verdict.map(|v| format!("{:.3}", v.p_attack)).unwrap_or_default());
                    cell(&mut row, format_value(table.row(r)[feature_col]));
                    if row.response().clicked() {
                        clicked = Some(r);
                    }
                });
            });
        if let Some(col) = sort_clicked {
            if self.query.sort == col {
                self.query.descending = !self.query.descending;
            } else {
                self.query.sort = col;
                self.query.descending = matches!(col, SortColumn::PAttack);
            }
        }
        if let Some(r) = clicked {
            state.select_row(r);
            state.view = super::InspectorView::NAME;
        }
        if let Some(p) = pivot {
            state.pivot_to(Some(p));
        }
    }

    /// What a pivot narrowed the table to, and the way back to every flow.
    fn pivot_bar(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(filter) = state.pivot.clone() else { return };
        ui.horizontal(|ui| {
            ui.strong(format!("Showing {filter}"));
            if ui.button("Show every flow").clicked() {
                state.pivot_to(None);
            }
        });
    }
}

/// The time span dragged on the timeline, if any, and the way back to every time.
pub fn time_range_bar(ui: &mut egui::Ui, state: &mut AppState) {
    let Some(range) = state.time_range else { return };
    ui.horizontal(|ui| {
        ui.strong(format!("Only {range}"));
        if ui.button("Every time").clicked() {
            state.set_time_range(None);
        }
    });
}

/// The right-click menu of an address cell: show only its flows, leave them out, or copy it.
pub fn address_menu(ui: &mut egui::Ui, ip: Option<std::net::IpAddr>, port: Option<u16>) -> Option<PivotFilter> {
    let mut chosen = None;
    if let Some(ip) = ip {
        if ui.button(format!("Only the flows of {ip}")).clicked() {
            chosen = Some(PivotFilter::only(Pivot::Address(ip)));
        }
        if ui.button(format!("Every flow but those of {ip}")).clicked() {
            chosen = Some(PivotFilter::without(Pivot::Address(ip)));
        }
    }
    if let Some(port) = port {
        if ui.button(format!("Only the flows of port {port}")).clicked() {
            chosen = Some(PivotFilter::only(Pivot::Port(port)));
        }
        if ui.button(format!("Every flow but those of port {port}")).clicked() {
            chosen = Some(PivotFilter::without(Pivot::Port(port)));
        }
    }
    if ip.is_some() || port.is_some() {
        ui.separator();
        if ui.button("Copy").clicked() {
            ui.ctx().copy_text(endpoint(ip, port));
        }
    }
    if chosen.is_some() {
        ui.close();
    }
    chosen
}

impl FlowsView {
    pub const NAME: &'static str = "Flows";
}

impl View for FlowsView {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        self.refresh(state);
        if state.flows.is_none() {
            ui.vertical_centered(|ui| {
                ui.add_space(40.0);
                ui.heading("No flows loaded");
                ui.label("Open CICFlowMeter CSV files with File -> Open (Ctrl+O), drop them on this window,");
                ui.label("or pick a real attack flow from the Examples menu.");
            });
            return;
        }
        self.filter_bar(ui);
        self.pivot_bar(ui, state);
        time_range_bar(ui, state);
        let shown = self.order.clone();
        super::labels::labels_bar(ui, state, &shown, &mut self.label_family);
        super::packets::packets_bar(ui, state, &shown);
        super::export::export_bar(ui, state, &shown, &mut self.export_format);
        self.summary_bar(ui, state);
        self.plots(ui, state);
        if let Some(report) = state.flows.as_ref().and_then(|f| f.drift.clone()) {
            super::drift::drift_panel(ui, &report, &mut self.drift_feature);
        }
        if let Some(flows) = &state.flows {
            match findings_list(ui, &flows.findings, self.query.finding) {
                Some(FindingsAction::Show(i)) => {
                    let label = flows.findings.findings.get(i).map(|f| f.to_string()).unwrap_or_default();
                    state.pivot_to(Some(PivotFilter::only(Pivot::Finding { index: i, label })));
                }
                Some(FindingsAction::Clear) => state.pivot_to(None),
                None => {}
            }
        }
        if !self.is_settled() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Filtering and sorting...");
            });
        }
        ui.separator();
        self.table(ui, state);
    }
}

pub fn endpoint(ip: Option<std::net::IpAddr>, port: Option<u16>) -> String {
    match (ip, port) {
        (Some(ip), Some(port)) => format!("{ip}:{port}"),
        (Some(ip), None) => ip.to_string(),
        (None, Some(port)) => format!("port {port}"),
        (None, None) => String::new(),
    }
}

/// A feature value as the analyst reads it: integers without decimals, others to 4 places.
pub fn format_value(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.4}") }
}

/// Seconds since the epoch as `HH:MM:SS`, or `MM-DD HH:MM` when the axis spans days.
fn clock_time(seconds: f64, days: bool) -> String {
    let text = crate::ingest::timestamp::format_timestamp((seconds * 1e6) as i64);
    if days { text[5..16].to_string() } else { text[11..19].to_string() }
}

/// The alert threshold of the active model (its calibration's, or its own; 0.5 with no model).
fn threshold_of(state: &AppState) -> f32 {
    state.model.as_ref().map_or(crate::model::ATTACK_THRESHOLD, |m| m.threshold)
}
