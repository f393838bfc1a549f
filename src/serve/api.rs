//! The routes of `netvigil serve` and their OpenAPI description (utoipa). Handlers parse the
//! request, hand the flows to the service's scorer and shape the answer; nothing else.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ServerState;
use crate::detect::Findings;
use crate::features::FEATURES;
use crate::ingest::{FlowTable, IngestError, JsonFlowError, capture, read_csv_from, read_json_flows};
use crate::model::Verdict;

/// A request that cannot be answered, with the field or line at fault when there is one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<usize>,
    #[serde(skip)]
    pub status: u16,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError { error: error.into(), field: None, line: None, flow: None, status: status.as_u16() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self)).into_response()
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let mut api = ApiError::new(StatusCode::BAD_REQUEST, e.to_string());
        match e {
            IngestError::NotNumeric { line, column, .. } => (api.line, api.field) = (Some(line), Some(column)),
            IngestError::FieldCount { line, .. } => api.line = Some(line),
            IngestError::UnknownLabel { line, .. } => (api.line, api.field) = (Some(line), Some("Label".into())),
            IngestError::MissingColumns { missing, .. } => api.field = missing.first().cloned(),
            _ => {}
        }
        api
    }
}

impl From<JsonFlowError> for ApiError {
    fn from(e: JsonFlowError) -> Self {
        let mut api = ApiError::new(StatusCode::BAD_REQUEST, e.to_string());
        api.field = e.field();
        api.flow = match e {
            JsonFlowError::BadField { index, .. } | JsonFlowError::Missing { index, .. } => Some(index),
            JsonFlowError::Empty | JsonFlowError::Invalid(_) => None,
        };
        api
    }
}

/// One flow's verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowVerdict {
    /// 1 − P(benign).
    pub p_attack: f32,
    /// `BENIGN`, an attack family, or `attack` (unknown family, for unfamiliar flows).
    pub family: &'static str,
    /// P(attack) reached the threshold.
    pub attack: bool,
    /// Far from everything the model was trained on.
    pub unfamiliar: bool,
    pub family_probs: BTreeMap<&'static str, f32>,
    /// The gate's weight per expert (they sum to 1).
    pub gate: BTreeMap<&'static str, f32>,
    /// With `?explain=K`: the K features that moved the attack log-odds most from a typical
    /// training flow, with their signed attributions (integrated gradients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Vec<Attribution>>,
    /// Captures only: the labels of the host-level findings the flow is part of
    /// (`portscan:vertical`, `webattack:scanner`...), comma-separated; absent for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

/// A pattern across the flows of an uploaded capture (`netvigil inspect` lists the same).
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingSummary {
    /// Family and pattern: `portscan:vertical`, `dos:flood`, `webattack:webscan`...
    pub label: String,
    pub family: &'static str,
    /// The source address, or none for many (`sources` says how many).
    pub source: Option<String>,
    pub sources: usize,
    /// The target address, or none for many.
    pub target: Option<String>,
    pub targets: usize,
    pub ports: Vec<u16>,
    /// Start of the first and of the last flow (the capture's clock, UTC).
    pub first: String,
    pub last: String,
    /// The flows it rests on, as indices into `flows` of this answer.
    pub flows: Vec<u32>,
    /// The rule that fired, its threshold and where it comes from.
    pub rule: String,
}

impl From<&crate::detect::Finding> for FindingSummary {
    fn from(f: &crate::detect::Finding) -> Self {
        let ts = crate::ingest::timestamp::format_timestamp;
        FindingSummary {
            label: f.label(),
            family: f.family.name(),
            source: f.source.map(|a| a.to_string()),
            sources: f.sources,
            target: f.target.map(|a| a.to_string()),
            targets: f.targets,
            ports: f.ports.clone(),
            first: ts(f.first_us),
            last: ts(f.last_us),
            flows: f.rows.clone(),
            rule: f.rule.clone(),
        }
    }
}

/// One feature's share of the change of the attack log-odds.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attribution {
    pub feature: &'static str,
    pub value: f32,
    pub attribution: f32,
}

/// Query parameters of `/v1/score`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ScoreQuery {
    /// Explain each verdict by its K most attributed features (costs a forward and backward
    /// pass of 256 points per flow).
    pub explain: Option<usize>,
}

/// Verdicts for the flows of a request, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreResponse {
    pub model: String,
    pub model_sha256: String,
    /// P(attack) at or above which a flow is an attack.
    pub threshold: f32,
    pub flows: Vec<FlowVerdict>,
    /// Captures only: host-level findings across the uploaded flows (scans, floods, brute
    /// force, web attacks in HTTP), which flow verdicts alone cannot show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<FindingSummary>>,
}

/// Flows to score: JSON objects keyed by feature names (any CICFlowMeter dialect's spelling),
/// as an array, `{"flows": [...]}`, or one object; or a CSV body with a header; or a
/// pcap/pcapng capture, whose flows are extracted first.
#[utoipa::path(
    post,
    path = "/v1/score",
    request_body(content(
        (Vec<serde_json::Value> = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.tcpdump.pcap"),
    )),
    responses(
        (status = 200, description = "One verdict per flow, in input order", body = ScoreResponse),
        (status = 400, description = "A bad value, a missing feature, bad JSON or CSV: names the field or line", body = ApiError),
        (status = 401, description = "Missing or wrong bearer token", body = ApiError),
        (status = 413, description = "Body over the size limit"),
        (status = 415, description = "Unsupported Content-Type", body = ApiError),
    ),
    params(ScoreQuery),
    security((), ("bearer" = []))
)]
pub async fn score(
    State(state): State<Arc<ServerState>>,
    Query(query): Query<ScoreQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ScoreResponse>, ApiError> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let kind = kind.split(';').next().unwrap_or("").trim().to_string();
    let state2 = state.clone();
    // Small bodies are parsed right here; large ones on the blocking pool, so they never
    // hold up the async workers. Scoring goes through the batcher either way.
    let (table, findings) = if body.len() < 64 << 10 {
        parse(&kind, body, &state)?
    } else {
        tokio::task::spawn_blocking(move || parse(&kind, body, &state2)).await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the request failed: {e}"))
        })??
    };
    let verdicts = state
        .batcher
        .score(table.features().to_vec())
        .await
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the scorer stopped"))?;
    state.metrics.scored(&verdicts, &state.model.experts);
    let mut answer = response(&state, &verdicts);
    if let Some(found) = findings {
        for (flow, labels) in answer.flows.iter_mut().zip(found.per_flow(verdicts.len())) {
            flow.finding = (!labels.is_empty()).then_some(labels);
        }
        answer.findings = Some(found.findings.iter().map(FindingSummary::from).collect());
    }
    if let Some(k) = query.explain.filter(|&k| k > 0).map(|k| k.min(crate::features::N_FEATURES)) {
        let model = state.model.clone();
        let explained = tokio::task::spawn_blocking(move || {
            let e = crate::service::task::quietly(|task| {
                crate::service::explain::explain_rows(&model, table.features(), task)
            });
            (e, table)
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("explaining failed: {e}")))?;
        let (Ok(explanations), table) = explained else {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cancelled"));
        };
        for (i, (flow, e)) in answer.flows.iter_mut().zip(&explanations).enumerate() {
            let row = table.row(i);
            flow.explanation = Some(
                e.top(k)
                    .into_iter()
                    .map(|(j, a)| Attribution { feature: FEATURES[j].name, value: row[j], attribution: a })
                    .collect(),
            );
        }
    }
    Ok(Json(answer))
}

/// The request's flows, and for a capture the findings across them (detected on the
/// extractor's records, whose addresses the table does not keep: see `ReadOptions::addresses`).
fn parse(kind: &str, body: Bytes, state: &ServerState) -> Result<(FlowTable, Option<Findings>), ApiError> {
    match kind {
        "application/json" => Ok((read_json_flows("request", &body, &state.read)?, None)),
        "text/csv" => Ok((read_csv_from(Path::new("request body"), std::io::Cursor::new(body), &state.read)?, None)),
        "application/vnd.tcpdump.pcap" | "application/x-pcapng" | "application/octet-stream" => {
            let (flows, report) = capture::extract_bytes(body.to_vec(), &state.read.capture)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("capture: {e}")))?;
            let findings = crate::detect::detect_records(&flows);
            Ok((
                capture::records_to_table_without_addresses(Path::new("request.pcap"), &flows, &report),
                Some(findings),
            ))
        }
        "" => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no Content-Type: use application/json, text/csv or application/vnd.tcpdump.pcap",
        )),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type '{other}' is not scored: use application/json, text/csv or application/vnd.tcpdump.pcap"
            ),
        )),
    }
}

fn response(state: &ServerState, verdicts: &[Verdict]) -> ScoreResponse {
    let model = &state.model;
    let flows = verdicts
        .iter()
        .map(|v| FlowVerdict {
            p_attack: v.p_attack,
            family: v.family.name(),
            attack: v.is_attack(),
            unfamiliar: v.unfamiliar,
            family_probs: crate::ingest::AttackFamily::CLASSES
                .iter()
                .map(|f| (f.name(), v.family_probs[f.index()]))
                .collect(),
            gate: model.experts.iter().map(|e| (e.short, v.gate[e.slot])).collect(),
            explanation: None,
            finding: None,
        })
        .collect();
    ScoreResponse {
        model: model.name.clone(),
        model_sha256: model.sha256.clone(),
        threshold: model.threshold,
        flows,
        findings: None,
    }
}

/// A feature the model reads.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeatureInfo {
    pub name: &'static str,
    pub unit: String,
    pub expert: String,
    /// May be absent from input (imputed).
    pub optional: bool,
}

/// The model answering `/v1/score`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    pub name: String,
    pub sha256: String,
    pub netvigil_version: String,
    pub backend: String,
    pub threshold: f32,
    pub experts: Vec<String>,
    pub semantics: String,
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    pub features: Vec<FeatureInfo>,
}

#[utoipa::path(get, path = "/v1/model", responses((status = 200, description = "The active model", body = ModelInfo)), security((), ("bearer" = [])))]
pub async fn model(State(state): State<Arc<ServerState>>) -> Json<ModelInfo> {
    let m = &state.model;
    Json(ModelInfo {
        name: m.name.clone(),
        sha256: m.sha256.clone(),
        netvigil_version: m.version.clone(),
        backend: m.backend.clone(),
        threshold: m.threshold,
        experts: m.experts.iter().map(|e| format!("{} ({})", e.name, e.short)).collect(),
        semantics: m.manifest.semantics_note(&[]),
        metrics: m.metrics.clone(),
        features: FEATURES
            .iter()
            .map(|f| FeatureInfo {
                name: f.name,
                unit: format!("{:?}", f.unit),
                expert: format!("{:?}", f.expert()),
                optional: f.optional,
            })
            .collect(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub model: String,
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The server answers", body = Health)))]
pub async fn healthz(State(state): State<Arc<ServerState>>) -> Json<Health> {
    Json(Health { status: "ok", model: state.model.name.clone() })
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "OpenMetrics text (the Prometheus text format)", body = String, content_type = "application/openmetrics-text")), security((), ("bearer" = [])))]
pub async fn metrics(State(state): State<Arc<ServerState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.encode())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "NetVigil scoring service", description = "Scores CICFlowMeter flows (JSON, CSV) and captures with NetVigil's Mixture-of-Experts model."),
    paths(score, model, healthz, metrics),
    components(schemas(
        ScoreResponse,
        FlowVerdict,
        FindingSummary,
        Attribution,
        ApiError,
        ModelInfo,
        FeatureInfo,
        Health
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
