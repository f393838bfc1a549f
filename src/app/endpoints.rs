//! The endpoints view (Wireshark's Statistics → Endpoints, with verdicts and findings): one
//! row per address, sortable and filterable; double-click a row to see its flows.
//! Aggregated and sorted off the UI thread (`service::traffic`).

use std::sync::Arc;

use super::aggregate_table::{self, ColumnSpec, RowAction, count};
use super::conversations::empty_note;
use super::pending::Pending;
use super::state::AppState;
use super::View;
use crate::ingest::timestamp::format_timestamp;
use crate::service::traffic::{AggregateQuery, TimeRange, Endpoint, EndpointColumn as C, Pivot, PivotFilter, endpoint_order};

type OrderKey = ((u64, Option<TimeRange>), AggregateQuery<C>);

pub struct EndpointsView {
    pub query: AggregateQuery<C>,
    order: Pending<OrderKey, Vec<u32>>,
}

impl Default for EndpointsView {
    fn default() -> Self {
        EndpointsView { query: AggregateQuery::new(C::Flagged), order: Pending::default() }
    }
}

const COLUMNS: [ColumnSpec<C>; 11] = [
    ColumnSpec { title: "Address", sort: C::Address, width: 140.0 },
    ColumnSpec { title: "Flows", sort: C::Flows, width: 60.0 },
    ColumnSpec { title: "Pkts sent", sort: C::PacketsSent, width: 75.0 },
    ColumnSpec { title: "Pkts received", sort: C::PacketsReceived, width: 95.0 },
    ColumnSpec { title: "Bytes sent", sort: C::BytesSent, width: 90.0 },
    ColumnSpec { title: "Bytes received", sort: C::BytesReceived, width: 100.0 },
    ColumnSpec { title: "Peers", sort: C::Peers, width: 55.0 },
    ColumnSpec { title: "Ports touched", sort: C::PortsTouched, width: 95.0 },
    ColumnSpec { title: "First seen", sort: C::Start, width: 150.0 },
    ColumnSpec { title: "Flagged", sort: C::Flagged, width: 130.0 },
    ColumnSpec { title: "Findings", sort: C::Findings, width: 70.0 },
];

impl EndpointsView {
    pub const NAME: &'static str = "Endpoints";

    /// Rows shown (indices into the traffic's endpoints).
    pub fn shown(&self) -> Option<&[u32]> {
        self.order.held().map(|(_, o)| o.as_slice())
    }

    pub fn is_settled(&self, generation: u64, range: Option<TimeRange>) -> bool {
        self.order.is_current(&((generation, range), self.query.clone()))
    }
}

fn cells(e: &Endpoint) -> Vec<String> {
    let families = e.families.names();
    vec![
        e.address.to_string(),
        count(e.flows as u64),
        count(e.packets_sent),
        count(e.packets_received),
        count(e.bytes_sent),
        count(e.bytes_received),
        count(e.peers as u64),
        count(e.ports_touched as u64),
        e.start_us.map(format_timestamp).unwrap_or_default(),
        if families.is_empty() { count(e.flagged as u64) } else { format!("{} ({families})", count(e.flagged as u64)) },
        count(e.findings as u64),
    ]
}

fn menu(ui: &mut egui::Ui, e: &Endpoint) -> Option<PivotFilter> {
    let mut chosen = None;
    if ui.button(format!("Only the flows of {}", e.address)).clicked() {
        chosen = Some(PivotFilter::only(Pivot::Address(e.address)));
    }
    if ui.button(format!("Every flow but those of {}", e.address)).clicked() {
        chosen = Some(PivotFilter::without(Pivot::Address(e.address)));
    }
    ui.separator();
    if ui.button("Copy the address").clicked() {
        ui.ctx().copy_text(e.address.to_string());
    }
    chosen
}

impl View for EndpointsView {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some((generation, traffic)) = state.traffic() else {
            ui.weak("Open flows or a capture to see its hosts.");
            return;
        };
        let key = (generation, self.query.clone());
        let data = Arc::clone(&traffic);
        let query = self.query.clone();
        self.order.update(&key, &state.runtime, move || endpoint_order(&data.endpoints, &query));
        super::flows::time_range_bar(ui, state);
        aggregate_table::filter_bar(ui, &mut self.query, "address, family");
        if let Some(note) = empty_note(&traffic, "endpoints") {
            ui.weak(note);
            return;
        }
        let Some((_, order)) = self.order.held() else {
            ui.spinner();
            return;
        };
        ui.horizontal(|ui| {
            ui.strong(format!("{} endpoints", count(traffic.endpoints.len() as u64)));
            if order.len() != traffic.endpoints.len() {
                ui.label(format!("({} shown)", count(order.len() as u64)));
            }
            ui.weak("double-click an address for its flows; right-click for more");
        });
        ui.separator();
        let order = order.clone();
        let rows = &traffic.endpoints;
        let action = aggregate_table::table(
            ui,
            "endpoints",
            &COLUMNS,
            &mut self.query,
            &order,
            |i| cells(&rows[i as usize]),
            |i| rows[i as usize].flagged > 0,
            |ui, i| menu(ui, &rows[i as usize]),
        );
        match action {
            Some(RowAction::Open(i)) => state.pivot_to(Some(PivotFilter::only(Pivot::Address(rows[i as usize].address)))),
            Some(RowAction::Pivot(p)) => state.pivot_to(Some(p)),
            None => {}
        }
    }
}
