//! `netvigil serve` over real HTTP on a loopback port, with a real client (ureq): verdicts
//! identical to `netvigil predict` on the same real flows (JSON, CSV and capture bodies), a
//! 4xx naming the field or line for every bad request, limits, the token, `/metrics` read by a
//! Prometheus text-format parser, and the streaming scorer `predict - -o -`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netvigil::serve::{RunningServer, ServeOptions, start};
use netvigil::service::models;

use crate::common::repo_data;

fn default_model() -> PathBuf {
    crate::common::default_model()
}

fn server(dir: &tempfile::TempDir, tune: impl FnOnce(&mut ServeOptions)) -> RunningServer {
    let model = models::load("default", &default_model(), netvigil::model::DeviceChoice::Cpu).unwrap();
    let mut opts = ServeOptions::local(dir.path().to_path_buf());
    opts.bind = "127.0.0.1:0".parse().unwrap();
    tune(&mut opts);
    start(model, &opts).unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// POSTs `body` to /v1/score; the status and the JSON answer.
fn score(s: &RunningServer, content_type: &str, body: &[u8], token: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = agent().post(format!("http://{}/v1/score", s.address)).content_type(content_type);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

fn get(s: &RunningServer, path: &str) -> (u16, String) {
    let mut resp = agent().get(format!("http://{}{path}", s.address)).call().unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

fn assert_alive(s: &RunningServer) {
    assert_eq!(get(s, "/healthz").0, 200, "the server still answers");
}

/// (P(attack), family) per flow as `netvigil predict` writes them, reading `input` (a path,
/// or `-` with `stdin` piped in).
fn predict(input: &str, stdin: Option<&[u8]>, data_dir: &Path) -> Vec<(f32, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .args(["predict", "--quiet", "--device", "cpu", "--model"])
        .arg(default_model())
        .arg("--data-dir")
        .arg(data_dir)
        .args([input, "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "predict {input} failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let p = header.iter().position(|h| *h == "P(attack)").unwrap();
    let f = header.iter().position(|h| *h == "Predicted Family").unwrap();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[p].parse().unwrap(), cells[f].to_string())
        })
        .collect()
}

fn verdicts_of(answer: &serde_json::Value) -> Vec<(f32, String)> {
    answer["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["p_attack"].as_f64().unwrap() as f32, f["family"].as_str().unwrap().to_string()))
        .collect()
}

fn assert_same(served: &[(f32, String)], predicted: &[(f32, String)], what: &str) {
    assert_eq!(served.len(), predicted.len(), "{what}: one verdict per flow");
    for (i, (a, b)) in served.iter().zip(predicted).enumerate() {
        assert!((a.0 - b.0).abs() <= 1e-6 && a.1 == b.1, "{what}, flow {i}: served {a:?}, predict {b:?}");
    }
}

/// The sample's first `n` flows as a CSV body, and as JSON objects keyed by its header.
fn sample(n: usize) -> (String, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(repo_data("cicids2017-sample.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<&str> = lines.take(n).collect();
    let csv =
        std::iter::once(header.join(",")).chain(rows.iter().map(|r| r.to_string())).collect::<Vec<_>>().join("\n");
    let json = rows
        .iter()
        .map(|r| {
            // Numbers as JSON numbers where they are numbers, text otherwise (addresses, times).
            let object = header.iter().zip(r.split(',')).map(|(h, v)| {
                let value = v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map_or(serde_json::json!(v), |x| serde_json::json!(x));
                (h.to_string(), value)
            });
            serde_json::Value::Object(object.collect())
        })
        .collect();
    (csv, json)
}

#[test]
fn served_verdicts_equal_predict_for_json_csv_and_capture_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(&dir, |_| {});
    let (csv, json) = sample(200);
    let csv_file = dir.path().join("first200.csv");
    std::fs::write(&csv_file, &csv).unwrap();
    let expected = predict(csv_file.to_str().unwrap(), None, dir.path());
    assert_eq!(expected.len(), 200);

    let (status, answer) = score(&s, "text/csv", csv.as_bytes(), None);
    assert_eq!(status, 200, "{answer}");
    assert_same(&verdicts_of(&answer), &expected, "CSV body");
    let own = netvigil::model::bundle::alert_threshold_in(&crate::common::default_model());
    assert_eq!(answer["threshold"].as_f64().map(|t| t as f32), Some(own), "the model's own threshold");
    assert_eq!(answer["flows"][0]["gate"].as_object().unwrap().len(), 2, "a weight per expert");

    let (status, answer) = score(&s, "application/json", serde_json::to_string(&json).unwrap().as_bytes(), None);
    assert_eq!(status, 200, "{answer}");
    assert_same(&verdicts_of(&answer), &expected, "JSON body");
    let wrapped = serde_json::json!({ "flows": json[..3] });
    let (status, answer) = score(&s, "application/json; charset=utf-8", wrapped.to_string().as_bytes(), None);
    assert_eq!(status, 200, "{answer}");
    assert_same(&verdicts_of(&answer), &expected[..3], "{\"flows\": [...]}");

    let capture = repo_data("captures/bruteforce_hydra_ftp.pcap");
    let expected = predict(capture.to_str().unwrap(), None, dir.path());
    assert!(expected.len() > 10);
    let (status, answer) = score(&s, "application/vnd.tcpdump.pcap", &std::fs::read(&capture).unwrap(), None);
    assert_eq!(status, 200, "{answer}");
    assert_same(&verdicts_of(&answer), &expected, "capture body");
    // Findings across the uploaded flows, as `predict` finds them: hydra's FTP guessing.
    let findings = answer["findings"].as_array().expect("a capture's answer lists findings");
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(
        (f["label"].as_str(), f["source"].as_str(), f["ports"][0].as_u64()),
        (Some("bruteforce:guessing"), Some("10.77.0.1"), Some(21))
    );
    let rows: Vec<usize> = f["flows"].as_array().unwrap().iter().map(|r| r.as_u64().unwrap() as usize).collect();
    assert_eq!(rows.len(), 36, "{f}");
    for (i, flow) in answer["flows"].as_array().unwrap().iter().enumerate() {
        let expected = rows.contains(&i).then_some("bruteforce:guessing");
        assert_eq!(flow["finding"].as_str(), expected, "flow {i}");
    }
    let (_, csv_answer) = score(&s, "text/csv", csv.as_bytes(), None);
    assert!(csv_answer.get("findings").is_none(), "flow records carry no capture to look across");
}

#[test]
fn bad_requests_get_a_4xx_naming_the_field_or_line_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(&dir, |o| o.max_body_bytes = 256 << 10);
    let (csv, json) = sample(5);

    let mut bad_value = json.clone();
    bad_value[2]["Flow Duration"] = serde_json::json!("12 ms");
    let (status, e) = score(&s, "application/json", serde_json::to_string(&bad_value).unwrap().as_bytes(), None);
    assert_eq!((status, e["field"].as_str(), e["flow"].as_u64()), (400, Some("Flow Duration"), Some(2)), "{e}");
    assert_alive(&s);

    let mut missing = json.clone();
    missing[0].as_object_mut().unwrap().remove("Flow Duration");
    let (status, e) = score(&s, "application/json", serde_json::to_string(&missing).unwrap().as_bytes(), None);
    assert_eq!((status, e["field"].as_str()), (400, Some("Flow Duration")), "{e}");
    assert_alive(&s);

    let (status, e) = score(&s, "application/json", b"[{\"Flow Duration\": 3,", None);
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("not valid JSON"), "{e}");
    assert_alive(&s);

    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header.iter().position(|h| *h == "Flow Duration").unwrap();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    cells[col] = "fast".into();
    lines[3] = cells.join(",");
    let (status, e) = score(&s, "text/csv", lines.join("\n").as_bytes(), None);
    assert_eq!((status, e["line"].as_u64(), e["field"].as_str()), (400, Some(4), Some("Flow Duration")), "{e}");
    assert_alive(&s);

    let (status, _) = score(&s, "text/csv", &vec![b'1'; 300 << 10], None);
    assert_eq!(status, 413, "over the body limit");
    assert_alive(&s);

    let (status, e) = score(&s, "image/png", b"x", None);
    assert_eq!(status, 415, "{e}");
    let (status, _) = score(&s, "application/vnd.tcpdump.pcap", b"not a capture at all", None);
    assert_eq!(status, 400);
    assert_alive(&s);
}

#[test]
fn a_token_is_required_when_set_and_other_addresses_need_one() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let s = server(&dir, |o| o.token_file = Some(token_file.clone()));
    let (csv, _) = sample(2);
    assert_eq!(score(&s, "text/csv", csv.as_bytes(), None).0, 401);
    assert_eq!(score(&s, "text/csv", csv.as_bytes(), Some("s3cret-tokeX")).0, 401);
    assert_eq!(score(&s, "text/csv", csv.as_bytes(), Some("s3cret-token")).0, 200);
    assert_eq!(get(&s, "/metrics").0, 401, "metrics are guarded too");
    assert_alive(&s);

    let model = models::load("default", &default_model(), netvigil::model::DeviceChoice::Cpu).unwrap();
    let mut open = ServeOptions::local(dir.path().to_path_buf());
    open.bind = "0.0.0.0:0".parse().unwrap();
    let refused = start(model, &open).err().expect("no token, not loopback: refused");
    assert!(refused.to_string().contains("--token-file"), "{refused}");
}

/// A sample's value in the Prometheus text `text`, found by name and labels (a histogram's: its count).
fn sample_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid Prometheus text");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            _ => 0.0,
        })
        .sum()
}

#[test]
fn metrics_count_requests_errors_flows_and_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(&dir, |_| {});
    let before = get(&s, "/metrics").1;
    let (csv, _) = sample(40);
    let (_, answer) = score(&s, "text/csv", csv.as_bytes(), None);
    let flagged = answer["flows"].as_array().unwrap().iter().filter(|f| f["attack"] == true).count() as f64;
    score(&s, "text/csv", csv.as_bytes(), None);
    score(&s, "application/json", b"{", None);
    let after = get(&s, "/metrics").1;

    let delta =
        |name: &str, labels: &[(&str, &str)]| sample_value(&after, name, labels) - sample_value(&before, name, labels);
    assert_eq!(delta("netvigil_http_requests_total", &[("route", "/v1/score"), ("code", "200")]), 2.0);
    assert_eq!(delta("netvigil_http_requests_total", &[("route", "/v1/score"), ("code", "400")]), 1.0);
    assert_eq!(delta("netvigil_http_errors_total", &[("route", "/v1/score"), ("code", "400")]), 1.0);
    assert_eq!(delta("netvigil_flows_scored_total", &[]), 80.0);
    assert_eq!(delta("netvigil_verdicts_total", &[("family", "benign")]), 2.0 * (40.0 - flagged));
    assert_eq!(delta("netvigil_gate_weight", &[("expert", "Tabular")]), 80.0);
    assert_eq!(sample_value(&after, "netvigil_http_request_duration_seconds", &[("route", "/v1/score")]), 3.0);
    assert_eq!(sample_value(&after, "netvigil_active_model", &[("name", "default")]), 1.0);

    let (status, model) = get(&s, "/v1/model");
    let model: serde_json::Value = serde_json::from_str(&model).unwrap();
    assert_eq!(status, 200);
    assert_eq!(model["features"].as_array().unwrap().len(), 72);
    assert_eq!(model["sha256"].as_str().unwrap().len(), 64);
    let (status, doc) = get(&s, "/openapi.json");
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(status, 200);
    assert!(doc["paths"]["/v1/score"]["post"].is_object(), "the score route is documented");
}

#[test]
fn the_streaming_scorer_writes_predicts_verdicts_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo_data("cicids2017-sample.csv");
    let expected = predict(file.to_str().unwrap(), None, dir.path());
    let streamed = predict("-", Some(&std::fs::read(&file).unwrap()), dir.path());
    assert_eq!(streamed.len(), 798);
    assert_same(&streamed, &expected, "predict - -o -");
    // Both are batches in the history; the stream keeps its counts, not its rows.
    let batches = netvigil::store::Store::open(dir.path()).unwrap().batches().unwrap();
    let (stream, file_batch) = (&batches[0], &batches[1]);
    assert_eq!((stream.input.as_str(), stream.status.as_str()), ("<stdin> (stream)", "finished"));
    assert_eq!((stream.flows, stream.flagged), (Some(798), file_batch.flagged));
    assert_eq!((&stream.family_counts, stream.threshold), (&file_batch.family_counts, file_batch.threshold));
    assert!(stream.results_file.is_none() && stream.flows_per_s.is_some_and(|r| r > 0.0));
}

#[test]
fn a_stream_that_breaks_is_a_failed_batch_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_data("cicids2017-sample.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().take(50).collect();
    lines[30] = "not,a,flow";
    let status = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .args(["predict", "--quiet", "--device", "cpu", "--model"])
        .arg(default_model())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["-", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(lines.join("\n").as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert!(!status.success());
    let batches = netvigil::store::Store::open(dir.path()).unwrap().batches().unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].status, "failed");
    let error = batches[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("31"), "the failed batch names the line: {error}");
}

/// `predict -o` writes the same rows to a CSV and to a Parquet file as to standard output, and
/// leaves nothing beside them.
#[test]
fn predict_writes_the_same_verdicts_to_csv_parquet_and_standard_output() {
    use polars::prelude::{CsvReadOptions, ParquetReader, SerReader};
    let dir = tempfile::tempdir().unwrap();
    let file = repo_data("cicids2017-sample.csv");
    let expected = predict(file.to_str().unwrap(), None, dir.path());
    let out = tempfile::tempdir().unwrap();
    let mut columns = Vec::new();
    for name in ["scores.csv", "scores.parquet"] {
        let path = out.path().join(name);
        let status = Command::new(env!("CARGO_BIN_EXE_netvigil"))
            .args(["predict", "--quiet", "--device", "cpu", "--model"])
            .arg(default_model())
            .arg("--data-dir")
            .arg(dir.path())
            .arg(&file)
            .arg("-o")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "predict -o {name}");
        let frame = if name.ends_with(".csv") {
            CsvReadOptions::default().try_into_reader_with_file_path(Some(path)).unwrap().finish().unwrap()
        } else {
            ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap()
        };
        assert_eq!(frame.height(), expected.len(), "{name}");
        let p: Vec<f32> = frame
            .column("P(attack)")
            .unwrap()
            .cast(&polars::prelude::DataType::Float32)
            .unwrap()
            .f32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let shown: Vec<f32> = expected.iter().map(|(p, _)| *p).collect();
        assert!(
            p.iter().zip(&shown).all(|(a, b)| (a - b).abs() < 1e-4),
            "{name}: P(attack) differs from standard output"
        );
        columns.push(frame.get_column_names().iter().map(|c| c.to_string()).collect::<Vec<_>>());
    }
    assert_eq!(columns[0], columns[1]);
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "only the two outputs, no temporary files: {left:?}");
}

#[test]
fn asked_to_explain_the_server_gives_predicts_attributions() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(&dir, |_| {});
    let (csv, _) = sample(12);
    let file = dir.path().join("twelve.csv");
    std::fs::write(&file, &csv).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .args(["predict", "--quiet", "--device", "cpu", "--explain", "2", "--model"])
        .arg(default_model())
        .arg("--data-dir")
        .arg(dir.path())
        .arg(&file)
        .args(["-o", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (f1, a1) = (
        header.iter().position(|h| *h == "Top1 Feature").unwrap(),
        header.iter().position(|h| *h == "Top1 Attribution").unwrap(),
    );
    let expected: Vec<(String, f32)> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[f1].to_string(), c[a1].parse().unwrap())
        })
        .collect();

    let mut resp = agent()
        .post(format!("http://{}/v1/score?explain=2", s.address))
        .content_type("text/csv")
        .send(csv.as_bytes())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let flows = answer["flows"].as_array().unwrap();
    assert_eq!(flows.len(), expected.len());
    for (flow, (name, attribution)) in flows.iter().zip(&expected) {
        let e = flow["explanation"].as_array().expect("explained");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0]["feature"].as_str(), Some(name.as_str()));
        assert!((e[0]["attribution"].as_f64().unwrap() as f32 - attribution).abs() < 1e-4);
    }
    let (_, plain) = score(&s, "text/csv", csv.as_bytes(), None);
    assert!(plain["flows"][0].get("explanation").is_none(), "only when asked");
}

/// `predict`'s verdicts of the repository capture `rel`, and its `--format eve` alerts
/// (checked against the schema), one JSON object per line.
fn verdicts_and_eve_alerts(rel: &str) -> (Vec<(f32, String)>, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let capture = repo_data(rel);
    let verdicts = predict(capture.to_str().unwrap(), None, dir.path());
    let out = dir.path().join("alerts.json");
    let status = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .args(["predict", "--quiet", "--device", "cpu", "--format", "eve", "--model"])
        .arg(default_model())
        .arg("--data-dir")
        .arg(dir.path())
        .arg(&capture)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    crate::common::check_eve(&out);
    let text = std::fs::read_to_string(&out).unwrap();
    (verdicts, text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect())
}

#[test]
fn predict_writes_suricata_eve_alerts_for_the_flagged_flows() {
    let (verdicts, alerts) = verdicts_and_eve_alerts("captures/bruteforce_hydra_ftp.pcap");
    let flagged: Vec<&(f32, String)> = verdicts.iter().filter(|(_, f)| f != "benign").collect();
    assert!(!flagged.is_empty());
    // Every flow of the capture is flagged or in the brute-force finding; one alert each.
    assert!(alerts.len() >= flagged.len(), "one alert per flagged flow, and per flow of a finding");
    let by_model: Vec<&serde_json::Value> = alerts.iter().filter(|a| a["netvigil"]["alerted_by"] == "model").collect();
    assert_eq!(by_model.len(), flagged.len(), "the model's alerts, one per flagged flow");
    let alerts = by_model;
    for (a, (p, family)) in alerts.iter().zip(flagged) {
        assert_eq!(a["event_type"], "alert");
        assert_eq!(a["alert"]["category"].as_str(), Some(family.as_str()));
        assert!((a["netvigil"]["p_attack"].as_f64().unwrap() as f32 - p).abs() < 1e-6);
        assert!(a["src_ip"].is_string() && a["dest_port"].is_u64() && a["proto"] == "TCP");
        assert!(a["timestamp"].as_str().is_some_and(|t| t.ends_with("+0000") && t.contains('T')));
    }
}

#[test]
fn flows_marked_by_a_finding_alone_are_eve_alerts_too() {
    // wapiti's 9 kept-alive connections: the model flags some, the web-scan finding (OSSEC's
    // rule on their 404s) covers 7, together all 9 (README, "Findings").
    let (verdicts, alerts) = verdicts_and_eve_alerts("captures-heldout/webattack_wapiti.pcap");
    assert_eq!((alerts.len(), verdicts.len()), (9, 9), "every flow marked, one alert each");
    let flagged = verdicts.iter().filter(|(_, f)| f != "benign").count();
    let by_finding: Vec<&serde_json::Value> =
        alerts.iter().filter(|a| a["netvigil"]["alerted_by"] == "finding").collect();
    assert!(flagged < 9 && by_finding.len() == 9 - flagged, "{flagged} flagged, {} by the finding", by_finding.len());
    for a in by_finding {
        assert_eq!(a["alert"]["signature"], "NetVigil finding webattack:webscan");
        assert_eq!(
            (a["alert"]["category"].as_str(), a["netvigil"]["family"].as_str()),
            (Some("webattack"), Some("benign"))
        );
        assert_eq!(a["netvigil"]["findings"], serde_json::json!(["webattack:webscan"]));
    }
    let in_finding =
        alerts.iter().filter(|a| a["netvigil"]["findings"] == serde_json::json!(["webattack:webscan"])).count();
    assert_eq!(in_finding, 7);
}

#[test]
fn the_eve_schema_check_refuses_a_record_without_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.eve.json");
    std::fs::write(&bad, r#"{"timestamp":"2017-07-07T10:00:00.000000+0000","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":1,"rev":1,"category":"dos","severity":1},"netvigil":{"family":"dos","p_attack":0.9,"model":"m","unfamiliar":false}}"#).unwrap();
    let script = crate::common::repo("scripts/check_eve.py");
    let out = Command::new("python3").arg(script).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'signature' is a required property"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server's session is one batch in the history: running while it serves, then finished
/// with every flow it scored, the flagged ones and the families, as its answers said; a
/// server refused at start leaves no batch.
#[test]
fn a_servers_session_is_a_batch_in_the_history() {
    use netvigil::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let s = server(&dir, |_| {});
    let batches = || Store::open(dir.path()).unwrap().batches().unwrap();
    let running = &batches()[0];
    assert_eq!(running.status, "running");
    assert_eq!(running.input, format!("served on http://{} (POST /v1/score)", s.address));
    let (csv, json) = sample(300);
    let mut answers = vec![
        score(&s, "text/csv", csv.as_bytes(), None),
        score(&s, "application/json", serde_json::to_string(&json[..40]).unwrap().as_bytes(), None),
    ];
    let capture = std::fs::read(repo_data("captures/bruteforce_hydra_ftp.pcap")).unwrap();
    answers.push(score(&s, "application/vnd.tcpdump.pcap", &capture, None));
    assert_eq!(score(&s, "text/csv", b"not,a,flow\n1,2,3\n", None).0, 400, "a bad request scores nothing");
    let verdicts: Vec<(f32, String)> = answers
        .iter()
        .inspect(|(status, a)| assert_eq!(*status, 200, "{a}"))
        .flat_map(|(_, a)| verdicts_of(a))
        .collect();
    let flagged = verdicts.iter().filter(|(_, family)| family != "benign").count();
    assert!(flagged > 0 && flagged < verdicts.len(), "{flagged} of {}", verdicts.len());
    s.stop();

    let finished = &batches()[0];
    assert_eq!(batches().len(), 1);
    assert_eq!(finished.status, "finished");
    assert_eq!((finished.flows, finished.flagged), (Some(verdicts.len() as i64), Some(flagged as i64)));
    let counts = finished.family_counts.clone().unwrap();
    let benign = verdicts.len() - flagged;
    assert_eq!(counts.get("benign").copied(), Some(benign as u64), "{counts:?}");
    assert!(finished.flows_per_s.is_some_and(|r| r > 0.0));

    // Refused before it listens (no token for another address): nothing recorded.
    let model = models::load("default", &default_model(), netvigil::model::DeviceChoice::Cpu).unwrap();
    let mut open = ServeOptions::local(dir.path().to_path_buf());
    open.bind = "0.0.0.0:0".parse().unwrap();
    assert!(start(model, &open).is_err());
    assert_eq!(batches().len(), 1);
}

/// The server answers verdicts only and reads no addresses: an IPv6 address it scored a flow
/// of is not kept (every one read elsewhere stays in a process-wide table, which a server
/// running for weeks would grow without end). The same flows read as a file keep theirs.
#[test]
fn the_server_keeps_no_address_of_the_flows_it_scores() {
    use netvigil::ingest::address::ipv6_is_kept;
    use std::net::Ipv6Addr;
    // The sample's first flows, with source addresses of the documentation prefix that no
    // other test uses.
    let (csv, json) = sample(3);
    let (in_csv, in_json, in_file): (Ipv6Addr, Ipv6Addr, Ipv6Addr) = (
        "2001:db8:5e7:1::1".parse().unwrap(),
        "2001:db8:5e7:2::1".parse().unwrap(),
        "2001:db8:5e7:3::1".parse().unwrap(),
    );
    let with_source = |address: Ipv6Addr| {
        let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
        let column = lines[0].split(',').position(|h| h == "Src IP").unwrap();
        let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
        cells[column] = address.to_string();
        lines[1] = cells.join(",");
        lines.join("\n")
    };
    let mut json = json;
    json[0]["Src IP"] = serde_json::json!(in_json.to_string());

    let dir = tempfile::tempdir().unwrap();
    let s = server(&dir, |_| {});
    assert_eq!(score(&s, "text/csv", with_source(in_csv).as_bytes(), None).0, 200);
    assert_eq!(score(&s, "application/json", serde_json::to_string(&json).unwrap().as_bytes(), None).0, 200);
    assert!(!ipv6_is_kept(in_csv) && !ipv6_is_kept(in_json), "the server kept an address");

    let file = dir.path().join("flows.csv");
    std::fs::write(&file, with_source(in_file)).unwrap();
    let table = netvigil::ingest::read_file(&file, &netvigil::ingest::ReadOptions::default()).unwrap();
    assert_eq!(table.meta()[0].src_ip(), Some(in_file.into()));
    assert!(ipv6_is_kept(in_file), "a file's flows keep their addresses");
}
