//! `netvigil bench-gui`: frame time of the workstation with a large file loaded, while the
//! table scrolls and re-sorts, and the memory those flows take. Frames run headless (egui
//! layout and tessellation, the CPU side of a frame; the GPU draw is not included).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{FlowsView, LoadedFlows, NetVigilApp, SortColumn};
use crate::ingest::{ReadOptions, read_flows};
use crate::model::{DeviceChoice, Scorer};
use crate::service::models::default_model_dir;

/// What `netvigil bench-gui` measures.
#[derive(Debug, Clone)]
pub struct GuiBenchOptions {
    pub inputs: Vec<PathBuf>,
    pub read: ReadOptions,
    /// Frames to time.
    pub frames: usize,
    /// Model bundle scoring the flows first (default: the shipped model).
    pub model: Option<PathBuf>,
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct GuiBench {
    flows: usize,
    frames: usize,
    sorts: usize,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    rss_before_mb: f64,
    rss_loaded_mb: f64,
    flows_mb: f64,
}

/// Resident memory of this process in MB (Linux), 0 elsewhere.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

pub fn run(args: &GuiBenchOptions) -> anyhow::Result<()> {
    let rss_before_mb = rss_mb();
    let table = read_flows(&args.inputs, &args.read)?;
    let model_dir = args.model.clone().or_else(default_model_dir).ok_or_else(|| anyhow::anyhow!("no model: pass --model"))?;
    let (scorer, _, _) = Scorer::load(&model_dir, DeviceChoice::Auto)?;
    eprintln!("scoring {} flows…", table.len());
    let verdicts = scorer.score_table(&table);
    let rss_loaded_mb = rss_mb();
    let flows = table.len();
    // A scratch history folder: the benchmark must not touch the analyst's own history.
    let scratch = tempfile::tempdir()?;
    let mut app = NetVigilApp::new(scratch.path().to_path_buf());
    let findings = Arc::new(crate::detect::detect(&table));
    app.state.flows = Some(LoadedFlows {
        title: "bench".into(),
        paths: args.inputs.clone(),
        table: Arc::new(table),
        verdicts: Some(Arc::new(verdicts)),
        findings,
        flows_per_s: None,
        drift: None,
    });
    app.state.view = FlowsView::NAME;
    let ctx = egui::Context::default();
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0));
    let sorts = [SortColumn::PAttack, SortColumn::Source, SortColumn::Feature(0), SortColumn::Start, SortColumn::Row];
    let mut times = Vec::with_capacity(args.frames);
    let mut sorted = 0;
    for frame in 0..args.frames + 10 {
        if frame % 60 == 30 {
            if let Some(view) = app.view_mut::<FlowsView>() {
                view.query.sort = sorts[sorted % sorts.len()];
            }
            sorted += 1;
        }
        let input = egui::RawInput {
            screen_rect: Some(screen),
            time: Some(frame as f64 / 60.0),
            events: vec![
                egui::Event::PointerMoved(egui::pos2(640.0, 500.0)),
                egui::Event::MouseWheel {
                    unit: egui::MouseWheelUnit::Point,
                    delta: egui::vec2(0.0, -120.0),
                    modifiers: egui::Modifiers::NONE,
                    phase: egui::TouchPhase::Move,
                    source: egui::MouseWheelSource::Wheel,
                },
            ],
            ..Default::default()
        };
        let start = Instant::now();
        let output = ctx.run_ui(input, |ui| app.show(ui));
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        if frame >= 10 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        // Let background sorts finish at the pace a user would see them.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    let result = GuiBench {
        flows,
        frames: times.len(),
        sorts: sorted,
        p50_ms: pct(0.5),
        p95_ms: pct(0.95),
        max_ms: times.last().copied().unwrap_or(0.0),
        rss_before_mb,
        rss_loaded_mb,
        flows_mb: rss_loaded_mb - rss_before_mb,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} flows, {} frames while scrolling, {} re-sorts: frame p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; flows and verdicts take {:.0} MB",
            result.flows, result.frames, result.sorts, result.p50_ms, result.p95_ms, result.max_ms, result.flows_mb
        );
    }
    Ok(())
}
