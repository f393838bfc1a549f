//! The endpoints view (Wireshark's Statistics → Endpoints, with verdicts and findings): one
//! row per address, sortable and filterable; double-click a row to see its flows.
//! Aggregated and sorted off the UI thread (`service::traffic`).

use super::aggregate_table::{Aggregate, AggregateSpec, AggregateView, ColumnSpec, count};
use crate::ingest::timestamp::format_timestamp;
use crate::service::traffic::{Endpoint, EndpointColumn as C, Pivot, PivotFilter, endpoint_order};

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

/// The endpoints view.
pub type EndpointsView = AggregateView<C>;

impl Aggregate for C {
    const NAME: &'static str = "Endpoints";
    const FIRST_SORT: Self = C::Flagged;
    fn spec() -> &'static AggregateSpec<Self> {
        &SPEC
    }
}

const SPEC: AggregateSpec<C> = AggregateSpec {
    what: "endpoints",
    hint: "address, family",
    how: "double-click an address for its flows; right-click for more",
    columns: &COLUMNS,
    len: |t| t.endpoints.len(),
    order: |t, q| endpoint_order(&t.endpoints, q),
    cells: |t, i| cells(&t.endpoints[i as usize]),
    flagged: |t, i| t.endpoints[i as usize].flagged > 0,
    menu: |ui, t, i| menu(ui, &t.endpoints[i as usize]),
    open: |t, i| PivotFilter::only(Pivot::Address(t.endpoints[i as usize].address)),
};

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
