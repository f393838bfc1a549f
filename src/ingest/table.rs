//! `FlowTable`: the in-memory result of ingest, N flows × 72 features plus metadata and labels.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::address::PackedAddr;
use super::capture::http::HttpEvidence;
use super::dialect::Dialect;
use super::label::{AttackFamily, FlowLabel, LabelColumn};
use super::validate::ValidationReport;
use crate::features::N_FEATURES;

/// Per-flow identifiers and context: never model inputs, always shown to the analyst. Packed
/// (56 bytes where plain `Option`s took 96, 400 MB of ten million flows): addresses as
/// [`PackedAddr`], the start without an `Option` tag, the ID's text only where there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowMeta {
    src: PackedAddr,
    dst: PackedAddr,
    /// Microseconds since 1970-01-01 in the capture's local time (CICFlowMeter writes no
    /// zone); [`NO_TIME`] for none.
    start_us: i64,
    /// 1-based line of the file this flow came from (the header is line 1).
    pub line: u64,
    /// Index into [`FlowTable::sources`].
    pub source: u32,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub protocol: Option<u8>,
    /// Which [`FlowId`] the flow has; `id_text` holds a [`FlowId::Text`]'s text.
    id_form: IdForm,
    id_text: Option<Arc<String>>,
}

const _: () = assert!(std::mem::size_of::<FlowMeta>() == 56);

/// The start of a flow without one (no flow starts 292,000 years before 1970).
const NO_TIME: i64 = i64::MIN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdForm {
    None,
    Forward,
    Reversed,
    Text,
}

impl Default for FlowMeta {
    fn default() -> Self {
        FlowMeta {
            src: PackedAddr::NONE,
            dst: PackedAddr::NONE,
            start_us: NO_TIME,
            line: 0,
            source: 0,
            src_port: None,
            dst_port: None,
            protocol: None,
            id_form: IdForm::None,
            id_text: None,
        }
    }
}

/// A flow's ID. CICFlowMeter writes `src-dst-sport-dport-proto` of the flow or of its
/// reverse; kept as text per flow that is a 60-byte allocation, 600 MB of ten million flows, so
/// an ID that is one of those two is kept as which of them it is, and written out again the
/// same, byte for byte.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum FlowId {
    #[default]
    None,
    /// `src-dst-sport-dport-proto` of the flow's own fields.
    Forward,
    /// `dst-src-dport-sport-proto`.
    Reversed,
    /// Any other ID, as written.
    Text(Arc<String>),
}

impl FlowMeta {
    /// A flow of `line` of its file, nothing else known yet.
    pub fn at_line(line: u64) -> Self {
        FlowMeta { line, ..FlowMeta::default() }
    }

    pub fn src_ip(&self) -> Option<IpAddr> {
        self.src.get()
    }

    pub fn dst_ip(&self) -> Option<IpAddr> {
        self.dst.get()
    }

    pub fn set_src_ip(&mut self, ip: Option<IpAddr>) {
        self.src = PackedAddr::new(ip);
    }

    pub fn set_dst_ip(&mut self, ip: Option<IpAddr>) {
        self.dst = PackedAddr::new(ip);
    }

    /// Start of the flow, microseconds since 1970-01-01 in the capture's local time
    /// (CICFlowMeter writes no zone).
    pub fn timestamp_us(&self) -> Option<i64> {
        (self.start_us != NO_TIME).then_some(self.start_us)
    }

    pub fn set_timestamp_us(&mut self, start: Option<i64>) {
        self.start_us = start.filter(|&t| t != NO_TIME).unwrap_or(NO_TIME);
    }

    /// How the flow's ID is kept (see [`FlowId`]).
    pub fn id(&self) -> FlowId {
        match (self.id_form, &self.id_text) {
            (IdForm::Forward, _) => FlowId::Forward,
            (IdForm::Reversed, _) => FlowId::Reversed,
            (IdForm::Text, Some(text)) => FlowId::Text(text.clone()),
            _ => FlowId::None,
        }
    }

    pub fn set_id(&mut self, id: FlowId) {
        (self.id_form, self.id_text) = match id {
            FlowId::None => (IdForm::None, None),
            FlowId::Forward => (IdForm::Forward, None),
            FlowId::Reversed => (IdForm::Reversed, None),
            FlowId::Text(text) => (IdForm::Text, Some(text)),
        };
    }

    /// The flow's ID as written in its file (or as the extractor makes it).
    pub fn flow_id(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        let tuple = || Some((self.src_ip()?, self.dst_ip()?, self.src_port?, self.dst_port?, self.protocol?));
        match self.id_form {
            IdForm::None => None,
            IdForm::Text => self.id_text.as_deref().map(|t| Cow::Borrowed(t.as_str())),
            IdForm::Forward => tuple().map(|(s, d, sp, dp, p)| Cow::Owned(format!("{s}-{d}-{sp}-{dp}-{p}"))),
            IdForm::Reversed => tuple().map(|(s, d, sp, dp, p)| Cow::Owned(format!("{d}-{s}-{dp}-{sp}-{p}"))),
        }
    }

    /// Sets the ID read as `text` (after the addresses, ports and protocol are read).
    pub fn set_flow_id(&mut self, text: &[u8]) {
        let id = if text.is_empty() {
            FlowId::None
        } else if let Some(form) = self.tuple_form(text) {
            form
        } else {
            FlowId::Text(Arc::new(String::from_utf8_lossy(text).into_owned()))
        };
        self.set_id(id);
    }

    /// Whether `text` is exactly this flow's 5-tuple ID, forward or reversed.
    fn tuple_form(&self, text: &[u8]) -> Option<FlowId> {
        let (src, dst, sport, dport, proto) =
            (self.src_ip()?, self.dst_ip()?, self.src_port?, self.dst_port?, self.protocol?);
        let mut parts = text.split(|&b| b == b'-');
        let (a, b) = (canonical_ip(parts.next()?)?, canonical_ip(parts.next()?)?);
        let (pa, pb, p) =
            (canonical_number(parts.next()?)?, canonical_number(parts.next()?)?, canonical_number(parts.next()?)?);
        if parts.next().is_some() || p != u32::from(proto) {
            return None;
        }
        let (sport, dport) = (u32::from(sport), u32::from(dport));
        if (a, b, pa, pb) == (src, dst, sport, dport) {
            Some(FlowId::Forward)
        } else if (a, b, pa, pb) == (dst, src, dport, sport) {
            Some(FlowId::Reversed)
        } else {
            None
        }
    }
    /// Day of the week of the flow's start, 0 = Monday ... 6 = Sunday.
    pub fn weekday(&self) -> Option<u8> {
        self.timestamp_us().map(|us| {
            let days = us.div_euclid(86_400_000_000);
            // 1970-01-01 was a Thursday (index 3).
            ((days + 3).rem_euclid(7)) as u8
        })
    }
}

/// What one input file contributed.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFile {
    pub path: PathBuf,
    pub dialect: Dialect,
    pub rows: usize,
    pub report: ValidationReport,
    /// What the packets said beyond the flow features (captures only).
    #[serde(skip_serializing_if = "PayloadEvidence::is_empty")]
    pub payload: PayloadEvidence,
}

/// Evidence read from a capture's payloads (flow records carry none; the dialect says which
/// a source is), per flow of one source file, keyed by the flow's `line` (its first packet's
/// number), which sorting and selecting rows leave alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PayloadEvidence {
    /// (line, evidence) of the flows whose HTTP requests or responses said something
    /// ([`crate::ingest::capture::http`]), by line.
    pub http: Vec<(u64, HttpEvidence)>,
}

impl PayloadEvidence {
    pub fn is_empty(&self) -> bool {
        self.http.is_empty()
    }

    /// The HTTP evidence of the flow at `line` (empty for a flow without any).
    pub fn http_at(&self, line: u64) -> HttpEvidence {
        self.http.binary_search_by_key(&line, |&(l, _)| l).map_or_else(|_| HttpEvidence::default(), |i| self.http[i].1)
    }
}

impl SourceFile {
    /// A file of flow records (no payload evidence: only captures carry one).
    pub fn of_records(path: PathBuf, dialect: Dialect, rows: usize, report: ValidationReport) -> Self {
        SourceFile { path, dialect, rows, report, payload: PayloadEvidence::default() }
    }

    /// The name of the folder the file is in: the data source it belongs to (a release, a
    /// network, a capture run), by which training balances and tests are reported.
    pub fn folder_name(&self) -> String {
        self.path.parent().and_then(|p| p.file_name()).map_or_else(|| ".".into(), |n| n.to_string_lossy().into_owned())
    }

    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// N flows: a row-major N×72 `f32` matrix, metadata per flow, labels when the data has them.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    features: Vec<f32>,
    meta: Vec<FlowMeta>,
    /// `Some` when every source carried a label column; one entry per flow.
    labels: Option<LabelColumn>,
    pub sources: Vec<SourceFile>,
}

impl FlowTable {
    /// Builds a table from its parts; `features.len()` must be `meta.len() * 72`.
    pub fn from_parts(
        features: Vec<f32>,
        meta: Vec<FlowMeta>,
        labels: Option<LabelColumn>,
        sources: Vec<SourceFile>,
    ) -> Self {
        assert_eq!(features.len(), meta.len() * N_FEATURES, "feature matrix shape");
        if let Some(l) = &labels {
            assert_eq!(l.len(), meta.len(), "one label per flow");
        }
        FlowTable { features, meta, labels, sources }
    }

    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The whole matrix, row-major.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    pub fn features_mut(&mut self) -> &mut [f32] {
        &mut self.features
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * N_FEATURES..(i + 1) * N_FEATURES]
    }

    pub fn meta(&self) -> &[FlowMeta] {
        &self.meta
    }

    pub fn labels(&self) -> Option<&LabelColumn> {
        self.labels.as_ref()
    }

    /// Gives every flow the label `raw` (e.g. a capture of one known attack tool), replacing
    /// any labels it had. `None` when `raw` is no label NetVigil knows.
    pub fn label_all(&mut self, raw: &str) -> Option<()> {
        let family = AttackFamily::from_label(raw)?;
        let label = FlowLabel { raw: std::sync::Arc::from(raw), family };
        self.labels = Some(std::iter::repeat_n(label, self.len()).collect());
        Some(())
    }

    /// The flow semantics of the sources, each once, in order.
    pub fn semantics(&self) -> Vec<super::dialect::FlowSemantics> {
        let mut s: Vec<_> = self.sources.iter().map(|f| f.dialect.semantics()).collect();
        s.sort_unstable();
        s.dedup();
        s
    }

    pub fn families(&self) -> Option<Vec<AttackFamily>> {
        self.labels.as_ref().map(|l| l.iter().map(|x| x.family).collect())
    }

    /// Appends another table (e.g. the next file of a folder). Labels survive only when both
    /// sides have them.
    pub fn append(&mut self, mut other: FlowTable) {
        if self.meta.is_empty() && self.sources.is_empty() {
            // The first file: take its table whole instead of copying hundreds of MB.
            *self = other;
            return;
        }
        let offset = self.sources.len() as u32;
        for m in &mut other.meta {
            m.source += offset;
        }
        self.labels = match (self.labels.take(), other.labels.take()) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            (None, Some(b)) if self.meta.is_empty() => Some(b),
            // A file without rows (a header alone, e.g. a capture whose flows were all left
            // out) says nothing about labels: the rows so far keep theirs.
            (Some(a), None) if other.meta.is_empty() => Some(a),
            _ => None,
        };
        self.features.extend_from_slice(&other.features);
        self.meta.extend(other.meta);
        self.sources.extend(other.sources);
    }

    /// A new table with the given rows, in the given order (sources are kept whole).
    pub fn select(&self, rows: &[usize]) -> FlowTable {
        let mut features = Vec::with_capacity(rows.len() * N_FEATURES);
        for &r in rows {
            features.extend_from_slice(self.row(r));
        }
        FlowTable {
            features,
            meta: rows.iter().map(|&r| self.meta[r].clone()).collect(),
            labels: self.labels.as_ref().map(|l| l.select(rows.iter().copied())),
            sources: self.sources.clone(),
        }
    }

    /// Indices of the first occurrence of every distinct (features, label) row, in order.
    /// Exact duplicates are dropped before any split so test rows cannot leak into training.
    pub fn unique_rows(&self) -> Vec<usize> {
        let mut seen = HashSet::with_capacity(self.len());
        (0..self.len()).filter(|&i| seen.insert(self.row_key(i))).collect()
    }

    /// Number of rows that exactly repeat an earlier row (features and label).
    pub fn duplicate_count(&self) -> usize {
        self.len() - self.unique_rows().len()
    }

    /// Rows per raw label, in label order.
    pub fn label_counts(&self) -> std::collections::BTreeMap<String, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for l in self.labels.iter().flat_map(LabelColumn::iter) {
            *counts.entry(l.raw.to_string()).or_insert(0) += 1;
        }
        counts
    }

    /// Rows per attack family (empty when the table is unlabelled).
    pub fn family_counts(&self) -> std::collections::BTreeMap<AttackFamily, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for l in self.labels.iter().flat_map(LabelColumn::iter) {
            *counts.entry(l.family).or_insert(0) += 1;
        }
        counts
    }

    fn row_key(&self, i: usize) -> (Vec<u32>, Option<Arc<str>>) {
        let bits = self.row(i).iter().map(|v| v.to_bits()).collect();
        (bits, self.labels.as_ref().map(|l| l[i].raw.clone()))
    }
}

/// An address written exactly as `Display` writes it (so the ID is rebuilt byte for byte).
fn canonical_ip(text: &[u8]) -> Option<IpAddr> {
    let ip: IpAddr = std::str::from_utf8(text).ok()?.parse().ok()?;
    // A dotted quad parses only in its one spelling; IPv6 has several.
    (ip.is_ipv4() || ip.to_string().as_bytes() == text).then_some(ip)
}

/// A decimal without sign or leading zeros, as `Display` writes an integer.
fn canonical_number(text: &[u8]) -> Option<u32> {
    let ok = !text.is_empty()
        && text.len() <= 9
        && text.iter().all(u8::is_ascii_digit)
        && (text[0] != b'0' || text.len() == 1);
    ok.then(|| text.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}
