//! The table shared by the conversations and endpoints views: a filter bar, sortable
//! headers and a virtual body (only visible rows are laid out). Rows with flagged flows are
//! tinted; double-clicking a row or choosing from its right-click menu pivots to its flows.

use egui_extras::{Column, TableBuilder};

use super::style;
use crate::service::traffic::{AggregateQuery, PivotFilter};

/// One column: its title, the sort key it stands for, its starting width.
pub struct ColumnSpec<C> {
    pub title: &'static str,
    pub sort: C,
    pub width: f32,
}

/// What the analyst did with a row.
pub enum RowAction {
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
pub fn table<C: Copy + PartialEq>(
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
        builder = builder.column(if i + 1 == columns.len() { Column::remainder().at_least(c.width) } else { Column::initial(c.width).at_least(40.0) });
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
