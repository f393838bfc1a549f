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
    let model = service::models::resolve_and_load(&opts.data_dir, opts.model.as_deref(), crate::model::DeviceChoice::Cpu)?;
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
        let mut bodies = vec![("json", "application/json", json_body(table.features(), size))];
        if size > 1 {
            bodies.push(("csv", "text/csv", csv_body(&csv_lines, size)));
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
        eprintln!("predict on the same flows: {predict_flows_per_s:.0} flows/s");
    }
    Ok(())
}

/// `predict`'s flows/s: the service's scorer over 100,000 flows (the input repeated).
fn predict_speed(model: &LoadedModel, features: &[f32]) -> f64 {
    let n = features.len() / N_FEATURES;
    let want = 100_000;
    let rows: Vec<f32> = features.iter().copied().cycle().take(want.max(n) * N_FEATURES).collect();
    let started = Instant::now();
    let scored = service::task::quietly(|task| service::scoring::score_rows(model, &rows, task)).map(|v| v.len()).unwrap_or(0);
    scored as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// The first `size` flows (cycled) as a JSON array of objects keyed by feature name.
fn json_body(features: &[f32], size: usize) -> Vec<u8> {
    let n = features.len() / N_FEATURES;
    let flows: Vec<serde_json::Value> = (0..size)
        .map(|i| {
            let mut row = [0f32; N_FEATURES];
            row.copy_from_slice(&features[(i % n) * N_FEATURES..(i % n + 1) * N_FEATURES]);
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

/// The header and the first `size` data lines (cycled) as a CSV body.
fn csv_body(lines: &[String], size: usize) -> Vec<u8> {
    let data = &lines[1..];
    let mut body = lines[0].clone();
    for i in 0..size {
        body.push('\n');
        body.push_str(&data[i % data.len().max(1)]);
    }
    body.into_bytes()
}

/// `clients` threads send `body` back to back for `duration`; latencies of every request.
fn load(url: &str, content_type: &str, body: &[u8], size: usize, clients: usize, duration: Duration) -> LoadResult {
    let started = Instant::now();
    let per_client: Vec<(Vec<f64>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                    let (mut times, mut errors) = (Vec::new(), 0);
                    while started.elapsed() < duration {
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
