//! The conversations view (Wireshark's Statistics → Conversations, with verdicts): one row
//! per pair of addresses and protocol, sortable and filterable; double-click a row to see
//! its flows. Aggregated and sorted off the UI thread (`service::traffic`).

use super::aggregate_table::{Aggregate, AggregateSpec, AggregateView, ColumnSpec, count};
use crate::ingest::timestamp::format_timestamp;
use crate::service::traffic::{
    Conversation, ConversationColumn as C, Pivot, PivotFilter, conversation_order, protocol_name,
};

const COLUMNS: [ColumnSpec<C>; 13] = [
    ColumnSpec { title: "Address A", sort: C::AddressA, width: 120.0 },
    ColumnSpec { title: "Address B", sort: C::AddressB, width: 120.0 },
    ColumnSpec { title: "Proto", sort: C::Protocol, width: 50.0 },
    ColumnSpec { title: "Flows", sort: C::Flows, width: 60.0 },
    ColumnSpec { title: "Pkts A-B", sort: C::PacketsAb, width: 70.0 },
    ColumnSpec { title: "Pkts B-A", sort: C::PacketsBa, width: 70.0 },
    ColumnSpec { title: "Bytes A-B", sort: C::BytesAb, width: 75.0 },
    ColumnSpec { title: "Bytes B-A", sort: C::BytesBa, width: 75.0 },
    ColumnSpec { title: "Start", sort: C::Start, width: 132.0 },
    ColumnSpec { title: "End", sort: C::End, width: 132.0 },
    ColumnSpec { title: "Duration (s)", sort: C::Duration, width: 80.0 },
    ColumnSpec { title: "Flagged", sort: C::Flagged, width: 118.0 },
    ColumnSpec { title: "Max P(attack)", sort: C::MaxPAttack, width: 90.0 },
];

/// The conversations view.
pub type ConversationsView = AggregateView<C>;

impl Aggregate for C {
    const NAME: &'static str = "Conversations";
    const FIRST_SORT: Self = C::Flagged;
    fn spec() -> &'static AggregateSpec<Self> {
        &SPEC
    }
}

const SPEC: AggregateSpec<C> = AggregateSpec {
    what: "conversations",
    hint: "address, protocol, family",
    how: "double-click a conversation for its flows; right-click for more",
    columns: &COLUMNS,
    len: |t| t.conversations.len(),
    order: |t, q| conversation_order(&t.conversations, q),
    cells: |t, i| cells(&t.conversations[i as usize]),
    flagged: |t, i| t.conversations[i as usize].flagged > 0,
    menu: |ui, t, i| menu(ui, &t.conversations[i as usize]),
    open: |t, i| PivotFilter::only(t.conversations[i as usize].pivot()),
};

fn cells(c: &Conversation) -> Vec<String> {
    let families = c.families.names();
    vec![
        c.a.to_string(),
        c.b.to_string(),
        protocol_name(c.protocol),
        count(c.flows as u64),
        count(c.packets_ab),
        count(c.packets_ba),
        count(c.bytes_ab),
        count(c.bytes_ba),
        c.start_us.map(format_timestamp).unwrap_or_default(),
        c.end_us.map(format_timestamp).unwrap_or_default(),
        c.duration_s().map(|d| format!("{d:.3}")).unwrap_or_default(),
        if families.is_empty() { count(c.flagged as u64) } else { format!("{} ({families})", count(c.flagged as u64)) },
        c.max_p_attack.map_or_else(|| "-".into(), |p| format!("{p:.3}")),
    ]
}

fn menu(ui: &mut egui::Ui, c: &Conversation) -> Option<PivotFilter> {
    let mut chosen = None;
    if ui.button("Only the flows of this conversation").clicked() {
        chosen = Some(PivotFilter::only(c.pivot()));
    }
    if ui.button("Every flow but those of this conversation").clicked() {
        chosen = Some(PivotFilter::without(c.pivot()));
    }
    ui.separator();
    for address in [c.a, c.b] {
        if ui.button(format!("Only the flows of {address}")).clicked() {
            chosen = Some(PivotFilter::only(Pivot::Address(address)));
        }
    }
    if ui.button("Copy the addresses").clicked() {
        ui.ctx().copy_text(format!("{} {}", c.a, c.b));
    }
    chosen
}
