//! `netvigil bench-serve`: requests/s and latency of the real server on this machine, for
//! one-flow and 1,000-flow JSON requests at several concurrencies, beside `predict`'s own
//! flows/s on the same flows in the same run. The server runs in this process on a loopback
//! port; the clients are threads with keep-alive connections (ureq), on the same cores.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{ServeOptions, start};
use crate::features::N_FEATURES;
use crate::ingest::{ReadOptions, read_flows};
use crate::service::{self, LoadedModel};

/// What to measure.
#[derive(Debug, Clone)]
pub struct ServeBenchOptions {
    pub inputs: Vec<PathBuf>,
    pub model: Option<String>,
    pub concurrency: Vec<usize>,
    pub flows_per_request: Vec<usize>,
    pub seconds: f64,
    pub json: bool,
    pub data_dir: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct LoadResult {
    /// `json` or `csv`.
    pub body: &'static str,
    pub flows_per_request: usize,
    pub concurrency: usize,
    pub requests: usize,
    pub requests_per_s: f64,
    pub flows_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

#[derive(Debug, Serialize)]
pub struct ServeBench {
    /// `predict`'s scoring speed on the same flows (the service's scorer, no HTTP).
    pub predict_flows_per_s: f64,
    pub results: Vec<LoadResult>,
}

pub fn run(opts: &ServeBenchOptions) -> anyhow::Result<()> {
    let model =
        service::models::resolve_and_load(&opts.data_dir, opts.model.as_deref(), crate::model::DeviceChoice::Cpu)?;
    let table = read_flows(&opts.inputs, &ReadOptions::default())?;
    anyhow::ensure!(!table.is_empty(), "no flows to send");
    let predict_flows_per_s = predict_speed(&model, table.features());
    let mut server_opts = ServeOptions::local(opts.data_dir.clone());
    server_opts.bind = "127.0.0.1:0".parse()?;
    let server = start(model, &server_opts)?;
    let url = format!("http://{}/v1/score", server.address);
    let mut results = Vec::new();
    let csv_lines = csv_lines(&opts.inputs)?;
    for &size in &opts.flows_per_request {
        // JSON, the SIEM's usual body, at every size; CSV too for batches.
        let offsets = body_offsets(table.len(), size);
        let json: Vec<Vec<u8>> = offsets.iter().map(|&at| json_body(table.features(), at, size)).collect();
        let mut bodies = vec![("json", "application/json", json)];
        if size > 1 {
            // The first CSV's own lines (the table may hold more files).
            let csv_offsets = body_offsets(csv_lines.len().saturating_sub(1), size);
            bodies.push(("csv", "text/csv", csv_offsets.iter().map(|&at| csv_body(&csv_lines, at, size)).collect()));
        }
        for (kind, content_type, body) in &bodies {
            for &c in &opts.concurrency {
                let r = load(&url, content_type, body, size, c, Duration::from_secs_f64(opts.seconds));
                let r = LoadResult { body: kind, ..r };
                if !opts.json {
                    eprintln!(
                        "{kind:>4} {size:>5} flows/request x {c:>3} clients: {:>8.0} requests/s {:>9.0} flows/s  p50 {:.2} ms  p99 {:.2} ms  ({} errors)",
                        r.requests_per_s, r.flows_per_s, r.p50_ms, r.p99_ms, r.errors
                    );
                }
                results.push(r);
            }
        }
    }
    let served = flows_scored(&format!("http://{}/metrics", server.address));
    server.stop();
    let sent: usize = results.iter().map(|r| (r.requests - r.errors) * r.flows_per_request).sum();
    // The server's own count must agree with the clients': a check that every answer was real.
    anyhow::ensure!(served == Some(sent as f64), "the server counted {served:?} flows scored, the clients {sent}");
    let bench = ServeBench { predict_flows_per_s, results };
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&bench)?);
    } else {
        eprintln!(
            "predict on the same flows (the 1,000-flow requests' batches, no HTTP): {predict_flows_per_s:.0} flows/s"
        );
    }
    Ok(())
}

/// Most distinct bodies per request size.
const MAX_BODIES: usize = 64;

/// Where each request body starts in the input: consecutive stretches of `size` flows, as many
/// as the input holds (at most [`MAX_BODIES`]). Concurrent requests are scored in one pass,
/// and repeats of a row within it are scored once (`Scorer::score_raw`): clients that all sent
/// one body would be timed on one body's work (the sample's 798 flows gave 1,000-flow
/// requests 2.2 times `predict`'s flows/s), so each sends the bodies in turn, and the input
/// should hold many more flows than a request (`scripts/bench_serve.sh` gives it the
/// corrected release).
fn body_offsets(flows: usize, size: usize) -> Vec<usize> {
    let count = (flows / size.max(1)).clamp(1, MAX_BODIES);
    (0..count).map(|i| i * size).collect()
}

/// `predict`'s flows/s on what the 1,000-flow requests carry: the same stretches of the
/// input, each scored as one batch by the service's scorer, 100,000 flows in all.
fn predict_speed(model: &LoadedModel, features: &[f32]) -> f64 {
    const BATCH: usize = 1_000;
    let n = features.len() / N_FEATURES;
    let blocks: Vec<Vec<f32>> = body_offsets(n, BATCH).iter().map(|&at| cycled_rows(features, at, BATCH)).collect();
    let started = Instant::now();
    let mut scored = 0;
    for block in blocks.iter().cycle().take(100) {
        scored +=
            service::task::quietly(|task| service::scoring::score_rows(model, block, task)).map_or(0, |v| v.len());
    }
    scored as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// `size` rows of `features` from row `at` on, cycling past the end.
fn cycled_rows(features: &[f32], at: usize, size: usize) -> Vec<f32> {
    let n = (features.len() / N_FEATURES).max(1);
    (0..size)
        .flat_map(|i| features[((at + i) % n) * N_FEATURES..((at + i) % n + 1) * N_FEATURES].iter().copied())
        .collect()
}

/// `size` flows from row `at` on (cycled) as a JSON array of objects keyed by feature name.
fn json_body(features: &[f32], at: usize, size: usize) -> Vec<u8> {
    let rows = cycled_rows(features, at, size);
    let flows: Vec<serde_json::Value> = rows
        .chunks_exact(N_FEATURES)
        .map(|r| {
            let mut row = [0f32; N_FEATURES];
            row.copy_from_slice(r);
            crate::service::investigations::named_features(&row)
        })
        .collect();
    serde_json::to_vec(&flows).unwrap_or_default()
}

/// The header and data lines of the first CSV input.
fn csv_lines(inputs: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let files = crate::ingest::expand_inputs(inputs)?;
    let first = files.first().ok_or_else(|| anyhow::anyhow!("no input"))?;
    let text = std::fs::read_to_string(first).map_err(|e| anyhow::anyhow!("{}: {e}", first.display()))?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The header and `size` data lines from data line `at` on (cycled) as a CSV body.
fn csv_body(lines: &[String], at: usize, size: usize) -> Vec<u8> {
    let data = &lines[1..];
    let mut body = lines[0].clone();
    for i in 0..size {
        body.push('\n');
        body.push_str(&data[(at + i) % data.len().max(1)]);
    }
    body.into_bytes()
}

/// `clients` threads send the `bodies` in turn, back to back for `duration` (client `i` starts
/// at body `i`); latencies of every request.
fn load(
    url: &str,
    content_type: &str,
    bodies: &[Vec<u8>],
    size: usize,
    clients: usize,
    duration: Duration,
) -> LoadResult {
    let started = Instant::now();
    let per_client: Vec<(Vec<f64>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                    let (mut times, mut errors) = (Vec::new(), 0);
                    let mut turn = bodies.iter().cycle().skip(client);
                    while started.elapsed() < duration {
                        let Some(body) = turn.next() else { break };
                        let t = Instant::now();
                        let ok = agent
                            .post(url)
                            .content_type(content_type)
                            .send(body)
                            .ok()
                            .filter(|r| r.status() == 200)
                            .and_then(|mut r| r.body_mut().read_to_vec().ok())
                            .is_some();
                        times.push(t.elapsed().as_secs_f64() * 1e3);
                        if !ok {
                            errors += 1;
                        }
                    }
                    (times, errors)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let errors = per_client.iter().map(|(_, e)| e).sum();
    let mut times: Vec<f64> = per_client.into_iter().flat_map(|(t, _)| t).collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| if times.is_empty() { 0.0 } else { times[((times.len() - 1) as f64 * p) as usize] };
    let requests = times.len();
    LoadResult {
        body: "",
        flows_per_request: size,
        concurrency: clients,
        requests,
        requests_per_s: requests as f64 / elapsed,
        flows_per_s: (requests * size) as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        errors,
    }
}

/// `netvigil_flows_scored_total` as the server's `/metrics` says.
pub fn flows_scored(metrics_url: &str) -> Option<f64> {
    let text = ureq::get(metrics_url).call().ok()?.body_mut().read_to_string().ok()?;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).ok()?;
    scrape.samples.iter().find(|s| s.metric == "netvigil_flows_scored_total").and_then(|s| match s.value {
        prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => Some(v),
        _ => None,
    })
}
