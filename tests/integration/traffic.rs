//! Conversations, endpoints and pivots (`service::traffic`, `service::flow_query`) on real
//! flows: a CSV of the corrected release with a DNS capture and an nmap SYN scan opened as
//! one session. Every figure is checked against a count made here from the flows themselves.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use netvigil::detect::detect;
use netvigil::features::FeatureId;
use netvigil::ingest::{FlowTable, ReadOptions, read_flows};
use netvigil::service::flow_query::{TableQuery, compute_order};
use netvigil::service::traffic::{
    AggregateQuery, ConversationColumn, EndpointColumn, Pivot, PivotFilter, conversation_order, endpoint_order, traffic,
};

use crate::common::{repo_data, shared};

fn session() -> FlowTable {
    let files = vec![
        repo_data("cicids2017-sample.csv"),
        shared("pcaps/normal/dns.pcap"),
        shared("pcaps/attacks/synscan.pcapng"),
    ];
    read_flows(&files, &ReadOptions::default()).unwrap()
}

fn packets(table: &FlowTable, r: usize) -> (u64, u64) {
    let row = table.row(r);
    (row[FeatureId::TotalFwdPackets as usize] as u64, row[FeatureId::TotalBwdPackets as usize] as u64)
}

#[test]
fn conversations_and_endpoints_account_for_every_flow_with_addresses() {
    let table = session();
    assert_eq!(table.sources.len(), 3, "three files, one session");
    let findings = detect(&table);
    let t = traffic(&table, None, Some(&findings), None);
    // Counted here: flows per unordered pair and protocol, and per address.
    let mut pairs: HashMap<(IpAddr, IpAddr, Option<u8>), usize> = HashMap::new();
    let mut per_address: HashMap<IpAddr, usize> = HashMap::new();
    let mut peers: HashMap<IpAddr, HashSet<IpAddr>> = HashMap::new();
    let mut with_addresses = 0;
    let mut total_packets = 0u64;
    for (r, m) in table.meta().iter().enumerate() {
        let (Some(s), Some(d)) = (m.src_ip(), m.dst_ip()) else { continue };
        with_addresses += 1;
        *pairs.entry((s.min(d), s.max(d), m.protocol)).or_default() += 1;
        *per_address.entry(s).or_default() += 1;
        if s != d {
            *per_address.entry(d).or_default() += 1;
        }
        peers.entry(s).or_default().insert(d);
        peers.entry(d).or_default().insert(s);
        let (f, b) = packets(&table, r);
        total_packets += f + b;
    }
    assert!(with_addresses > 1000, "{with_addresses}");
    assert_eq!(t.without_addresses, table.len() - with_addresses);
    assert_eq!(t.conversations.len(), pairs.len());
    for c in &t.conversations {
        assert!(c.a <= c.b);
        assert_eq!(c.flows, pairs[&(c.a, c.b, c.protocol)], "{} {}", c.a, c.b);
        assert!(c.start_us <= c.end_us);
    }
    let packets_in_conversations: u64 = t.conversations.iter().map(|c| c.packets_ab + c.packets_ba).sum();
    assert_eq!(packets_in_conversations, total_packets);
    assert_eq!(t.endpoints.len(), per_address.len());
    for e in &t.endpoints {
        assert_eq!(e.flows, per_address[&e.address], "{}", e.address);
        assert_eq!(e.peers, peers[&e.address].len(), "{}", e.address);
    }
    // What one endpoint sent, another received.
    let sent: u64 = t.endpoints.iter().map(|e| e.packets_sent).sum();
    let received: u64 = t.endpoints.iter().map(|e| e.packets_received).sum();
    assert_eq!(sent, received);
    // The scanner touched a thousand ports and is named by the scan finding.
    let scan = findings.findings.iter().find(|f| f.label() == "portscan:vertical").expect("the SYN scan is found");
    let scanner = t.endpoints.iter().find(|e| Some(e.address) == scan.source).unwrap();
    assert!(scanner.ports_touched >= 1000, "{}", scanner.ports_touched);
    assert!(scanner.findings >= 1);
}

#[test]
fn aggregate_tables_sort_and_filter() {
    let table = session();
    let t = traffic(&table, None, None, None);
    let mut q = AggregateQuery::new(ConversationColumn::Flows);
    let order = conversation_order(&t.conversations, &q);
    assert_eq!(order.len(), t.conversations.len());
    let flows: Vec<usize> = order.iter().map(|&i| t.conversations[i as usize].flows).collect();
    assert!(flows.windows(2).all(|w| w[0] >= w[1]), "descending by flows");
    q.descending = false;
    let ascending: Vec<usize> =
        conversation_order(&t.conversations, &q).iter().map(|&i| t.conversations[i as usize].flows).collect();
    assert!(ascending.windows(2).all(|w| w[0] <= w[1]));
    q.text = "udp".into();
    let udp = conversation_order(&t.conversations, &q);
    assert!(!udp.is_empty() && udp.len() < t.conversations.len());
    assert!(udp.iter().all(|&i| t.conversations[i as usize].protocol == Some(17)));
    // Nothing is flagged without verdicts.
    q = AggregateQuery { flagged_only: true, ..AggregateQuery::new(ConversationColumn::Flows) };
    assert!(conversation_order(&t.conversations, &q).is_empty());

    let e = AggregateQuery::new(EndpointColumn::PortsTouched);
    let order = endpoint_order(&t.endpoints, &e);
    let ports: Vec<usize> = order.iter().map(|&i| t.endpoints[i as usize].ports_touched).collect();
    assert!(ports.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn a_pivot_shows_exactly_the_flows_of_its_conversation_address_or_port() {
    let table = session();
    let t = traffic(&table, None, None, None);
    let biggest = t.conversations.iter().max_by_key(|c| c.flows).unwrap();
    let only = TableQuery { pivot: Some(PivotFilter::only(biggest.pivot())), ..TableQuery::default() };
    let rows = compute_order(&table, None, None, &only);
    assert_eq!(rows.len(), biggest.flows);
    for &r in &rows {
        let m = &table.meta()[r as usize];
        let (s, d) = (m.src_ip().unwrap(), m.dst_ip().unwrap());
        assert_eq!((s.min(d), s.max(d), m.protocol), (biggest.a, biggest.b, biggest.protocol));
    }
    // Excluding it shows every other flow.
    let without = TableQuery { pivot: Some(PivotFilter::without(biggest.pivot())), ..TableQuery::default() };
    assert_eq!(compute_order(&table, None, None, &without).len(), table.len() - rows.len());

    let endpoint = &t.endpoints[0];
    let q = TableQuery { pivot: Some(PivotFilter::only(Pivot::Address(endpoint.address))), ..TableQuery::default() };
    assert_eq!(compute_order(&table, None, None, &q).len(), endpoint.flows);

    let q = TableQuery { pivot: Some(PivotFilter::only(Pivot::Port(53))), ..TableQuery::default() };
    let dns = compute_order(&table, None, None, &q);
    assert!(!dns.is_empty());
    assert!(dns.iter().all(|&r| {
        let m = &table.meta()[r as usize];
        m.src_port == Some(53) || m.dst_port == Some(53)
    }));
    assert_eq!(
        PivotFilter::only(biggest.pivot()).to_string(),
        format!(
            "the flows of {} and {} over {}",
            biggest.a,
            biggest.b,
            netvigil::service::traffic::protocol_name(biggest.protocol)
        )
    );
}
