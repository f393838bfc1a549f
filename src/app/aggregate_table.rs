//! The table shared by the conversations and endpoints views: a filter bar, sortable
//! headers and a virtual body (only visible rows are laid out). Rows with flagged flows are
//! tinted; double-clicking a row or choosing from its right-click menu pivots to its flows.

use std::sync::Arc;

use egui_extras::{Column, TableBuilder};

use super::pending::Pending;
use super::state::AppState;
use super::style;
use crate::service::traffic::{AggregateQuery, PivotFilter, TimeRange, Traffic};

/// What the sorted rows of an aggregate view are for: the data's generation and time range,
/// and the query.
pub type OrderKey<C> = ((u64, Option<TimeRange>), AggregateQuery<C>);

/// The column type of an aggregate view names the view and says how it is drawn, so one
/// generic [`AggregateView`] serves conversations and endpoints.
pub trait Aggregate: Copy + PartialEq + Send + Sync + 'static {
    /// The view's name (its tab).
    const NAME: &'static str;
    /// The order a new view starts in (descending).
    const FIRST_SORT: Self;
    fn spec() -> &'static AggregateSpec<Self>;
}

/// An aggregate view: the analyst's query and the rows it shows, sorted on a worker.
pub struct AggregateView<C: Aggregate> {
    pub query: AggregateQuery<C>,
    order: Pending<OrderKey<C>, Vec<u32>>,
}

impl<C: Aggregate> Default for AggregateView<C> {
    fn default() -> Self {
        AggregateView { query: AggregateQuery::new(C::FIRST_SORT), order: Pending::default() }
    }
}

impl<C: Aggregate> AggregateView<C> {
    pub const NAME: &'static str = C::NAME;

    /// Rows shown (indices into the traffic's rows of this kind), once they reflect a query.
    pub fn shown(&self) -> Option<&[u32]> {
        self.order.held().map(|(_, o)| o.as_slice())
    }

    /// Whether the rows shown are for the current query on the given data.
    pub fn is_settled(&self, generation: u64, range: Option<TimeRange>) -> bool {
        self.order.is_current(&((generation, range), self.query.clone()))
    }
}

impl<C: Aggregate> super::View for AggregateView<C> {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        show(ui, state, C::spec(), &mut self.query, &mut self.order);
    }
}

/// One aggregate view (conversations, endpoints): its words, columns and rows.
pub struct AggregateSpec<C: 'static> {
    /// "conversations", "endpoints".
    pub what: &'static str,
    pub hint: &'static str,
    /// How to pivot from a row, in words.
    pub how: &'static str,
    pub columns: &'static [ColumnSpec<C>],
    pub len: fn(&Traffic) -> usize,
    pub order: fn(&Traffic, &AggregateQuery<C>) -> Vec<u32>,
    pub cells: fn(&Traffic, u32) -> Vec<String>,
    pub flagged: fn(&Traffic, u32) -> bool,
    pub menu: fn(&mut egui::Ui, &Traffic, u32) -> Option<PivotFilter>,
    /// The flows a double-click shows.
    pub open: fn(&Traffic, u32) -> PivotFilter,
}

/// Draws an aggregate view: time range, filter, counts, the table; sorts on a worker and
/// pivots on a double-click or a menu choice.
fn show<C: Aggregate>(
    ui: &mut egui::Ui,
    state: &mut AppState,
    spec: &AggregateSpec<C>,
    query: &mut AggregateQuery<C>,
    order: &mut Pending<OrderKey<C>, Vec<u32>>,
) {
    let Some((generation, traffic)) = state.traffic() else {
        ui.weak(format!("Open flows or a capture to see its {}.", spec.what));
        return;
    };
    let (data, q, sort) = (Arc::clone(&traffic), query.clone(), spec.order);
    order.update(&(generation, query.clone()), &state.runtime, move || sort(&data, &q));
    super::flows::time_range_bar(ui, state);
    filter_bar(ui, query, spec.hint);
    let total = (spec.len)(&traffic);
    if total == 0 {
        ui.weak(if traffic.without_addresses > 0 {
            format!(
                "No {}: none of the {} flows carries addresses (MachineLearningCVE files leave them out).",
                spec.what, traffic.without_addresses
            )
        } else {
            format!("No {} in these flows.", spec.what)
        });
        return;
    }
    let Some((_, rows)) = order.held() else {
        ui.spinner();
        return;
    };
    ui.horizontal(|ui| {
        ui.strong(format!("{} {}", count(total as u64), spec.what));
        if rows.len() != total {
            ui.label(format!("({} shown)", count(rows.len() as u64)));
        }
        if traffic.without_addresses > 0 {
            ui.weak(format!("{} flows without addresses left out", traffic.without_addresses));
        }
        ui.weak(spec.how);
    });
    ui.separator();
    let rows = rows.clone();
    let t = &traffic;
    let action = table(
        ui,
        spec.what,
        spec.columns,
        query,
        &rows,
        |i| (spec.cells)(t, i),
        |i| (spec.flagged)(t, i),
        |ui, i| (spec.menu)(ui, t, i),
    );
    match action {
        Some(RowAction::Open(i)) => state.pivot_to(Some((spec.open)(t, i))),
        Some(RowAction::Pivot(p)) => state.pivot_to(Some(p)),
        None => {}
    }
}

/// One column: its title, the sort key it stands for, its starting width.
pub struct ColumnSpec<C> {
    pub title: &'static str,
    pub sort: C,
    pub width: f32,
}

/// What the analyst did with a row.
enum RowAction {
    /// Double-click: show its flows.
    Open(u32),
    /// A choice from the right-click menu.
    Pivot(PivotFilter),
}

/// The text filter and "flagged only", labelled for the analyst (and for accessibility).
pub fn filter_bar<C>(ui: &mut egui::Ui, query: &mut AggregateQuery<C>, hint: &str) {
    ui.horizontal(|ui| {
        let label = ui.label("Filter");
        ui.add(egui::TextEdit::singleline(&mut query.text).hint_text(hint).desired_width(220.0)).labelled_by(label.id);
        ui.checkbox(&mut query.flagged_only, "with flagged flows only");
        if ui.button("Clear").clicked() {
            query.text.clear();
            query.flagged_only = false;
        }
    });
}

/// Draws `order` (indices into the caller's rows); `cells` gives a row's texts in column
/// order, `flagged` whether it has flagged flows, `menu` its right-click menu.
fn table<C: Copy + PartialEq>(
    ui: &mut egui::Ui,
    id: &str,
    columns: &[ColumnSpec<C>],
    query: &mut AggregateQuery<C>,
    order: &[u32],
    cells: impl Fn(u32) -> Vec<String>,
    flagged: impl Fn(u32) -> bool,
    menu: impl Fn(&mut egui::Ui, u32) -> Option<PivotFilter>,
) -> Option<RowAction> {
    let mut action = None;
    let mut sort_clicked = None;
    let mut builder = TableBuilder::new(ui).id_salt(id).striped(true).resizable(true).sense(egui::Sense::click());
    for (i, c) in columns.iter().enumerate() {
        builder = builder.column(if i + 1 == columns.len() {
            Column::remainder().at_least(c.width)
        } else {
            Column::initial(c.width).at_least(40.0)
        });
    }
    builder
        .header(22.0, |mut header| {
            for c in columns {
                header.col(|ui| {
                    let arrow = match (query.sort == c.sort, query.descending) {
                        (true, false) => " (asc)",
                        (true, true) => " (desc)",
                        _ => "",
                    };
                    if ui.button(format!("{}{arrow}", c.title)).clicked() {
                        sort_clicked = Some(c.sort);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(20.0, order.len(), |mut row| {
                let i = order[row.index()];
                let tint = flagged(i).then(|| style::row_tint(1.0, 0.5));
                for text in cells(i) {
                    row.col(|ui| {
                        if let Some(t) = tint {
                            ui.painter().rect_filled(ui.max_rect(), 0.0, t.gamma_multiply(0.6));
                        }
                        ui.add(egui::Label::new(text).truncate().selectable(false));
                    });
                }
                let response = row.response();
                if response.double_clicked() {
                    action = Some(RowAction::Open(i));
                }
                response.context_menu(|ui| {
                    if let Some(p) = menu(ui, i) {
                        action = Some(RowAction::Pivot(p));
                        ui.close();
                    }
                });
            });
        });
    if let Some(col) = sort_clicked {
        if query.sort == col {
            query.descending = !query.descending;
        } else {
            query.sort = col;
            query.descending = true;
        }
    }
    action
}

/// A count with thousands separators ("1,234,567").
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
