//! `netvigil bench-gui`: frame time of the workstation with a large file loaded, while the
//! table scrolls and re-sorts, and the memory those flows take. Frames run headless (egui
//! layout and tessellation, the CPU side of a frame; the GPU draw is not included).

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::{ConversationsView, EndpointsView, FlowsView, NetVigilApp, SortColumn};
use crate::ingest::ReadOptions;

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
    conversations: usize,
    endpoints: usize,
    /// Building the conversations and endpoints of every flow, once.
    aggregation_ms: f64,
    views: Vec<ViewFrames>,
    rss_before_mb: f64,
    rss_loaded_mb: f64,
    flows_mb: f64,
    /// Resident after the aggregation as well.
    rss_aggregated_mb: f64,
    /// The most this process was resident at any time (reading and scoring included).
    rss_peak_mb: f64,
    opening: Opening,
}

/// Opening the files as the window does: read on a worker, then scored on another, while
/// frames go on.
#[derive(Debug, Serialize)]
struct Opening {
    /// Until the first flows were on screen (a preview of a capture still being read).
    first_flows_s: f64,
    /// Until the first flows on screen had their verdicts.
    first_verdicts_s: f64,
    /// Until every flow had its verdict on screen.
    scored_s: f64,
    /// Until the batch was also recorded in the history (results file, drift).
    recorded_s: f64,
    /// Frames drawn meanwhile, and how long they took.
    frames: usize,
    p95_ms: f64,
    max_ms: f64,
}

/// Opens `inputs` in `app` (reading and scoring on workers, as File → Open does) and draws
/// frames until every flow has its verdict; fails on an error notice or after an hour.
fn open_as_the_window_does(
    app: &mut NetVigilApp,
    ctx: &egui::Context,
    inputs: &[PathBuf],
    read: &ReadOptions,
) -> anyhow::Result<Opening> {
    let started = Instant::now();
    app.state.open_with(inputs.to_vec(), read.clone(), ctx);
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0));
    let (mut times, mut first_flows_s, mut first_verdicts_s, mut scored_s) = (Vec::new(), None, None, None);
    loop {
        let input = egui::RawInput {
            screen_rect: Some(screen),
            time: Some(started.elapsed().as_secs_f64()),
            ..Default::default()
        };
        let frame = Instant::now();
        let output = ctx.run_ui(input, |ui| app.show(ui));
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        times.push(frame.elapsed().as_secs_f64() * 1e3);
        if let Some(notice) = app.state.notices.iter().find(|n| n.is_error) {
            anyhow::bail!("{}: {}", notice.summary, notice.details.clone().unwrap_or_default());
        }
        let flows = app.state.flows.as_ref();
        if first_flows_s.is_none() && flows.is_some() {
            first_flows_s = Some(started.elapsed().as_secs_f64());
        }
        if first_verdicts_s.is_none() && flows.is_some_and(|f| f.verdicts.is_some()) {
            first_verdicts_s = Some(started.elapsed().as_secs_f64());
        }
        let scored = flows.is_some_and(|f| !f.partial && f.verdicts.is_some());
        if scored_s.is_none() && scored {
            scored_s = Some(started.elapsed().as_secs_f64());
        }
        let done = scored && app.state.score_job.is_none() && app.state.load_job.is_none();
        if done {
            break;
        }
        anyhow::ensure!(started.elapsed().as_secs() < 3600, "the files were not read and scored within an hour");
        std::thread::sleep(std::time::Duration::from_millis(16));
    }
    let (_, p95_ms, max_ms) = percentiles(&mut times);
    Ok(Opening {
        first_flows_s: first_flows_s.unwrap_or_default(),
        first_verdicts_s: first_verdicts_s.unwrap_or_default(),
        scored_s: scored_s.unwrap_or_default(),
        recorded_s: started.elapsed().as_secs_f64(),
        frames: times.len(),
        p95_ms,
        max_ms,
    })
}

/// The median, 95th percentile and maximum of frame times (sorted in place).
fn percentiles(times: &mut [f64]) -> (f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times.get(((times.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(0.0);
    (pct(0.5), pct(0.95), times.last().copied().unwrap_or(0.0))
}

/// Frame times of one view while its table scrolls and re-sorts.
#[derive(Debug, Serialize)]
struct ViewFrames {
    view: &'static str,
    frames: usize,
    sorts: usize,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
}

/// Whether `view` has its data on screen (not a spinner while a worker prepares it).
fn ready(app: &NetVigilApp, view: &str) -> bool {
    let generation = app.state.generation;
    match view {
        v if v == ConversationsView::NAME => {
            app.view::<ConversationsView>().is_some_and(|c| c.is_settled(generation, None))
        }
        v if v == EndpointsView::NAME => app.view::<EndpointsView>().is_some_and(|e| e.is_settled(generation, None)),
        _ => app.view::<FlowsView>().is_some_and(|f| f.is_settled()),
    }
}

/// Shows `view` for `frames` timed frames, scrolling a wheel step every frame and calling
/// `resort` every 60 frames; frames before its data is ready (prepared on a worker) are not
/// timed.
fn time_view(
    app: &mut NetVigilApp,
    ctx: &egui::Context,
    view: &'static str,
    frames: usize,
    resort: &mut dyn FnMut(&mut NetVigilApp, usize),
) -> ViewFrames {
    app.state.view = view;
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0));
    let mut times = Vec::with_capacity(frames);
    let mut sorts = 0;
    let warm_up = Instant::now();
    let mut frame = 0usize;
    while frame < 10 || (!ready(app, view) && warm_up.elapsed().as_secs() < 120) {
        let input = egui::RawInput { screen_rect: Some(screen), time: Some(frame as f64 / 60.0), ..Default::default() };
        let _ = ctx.run_ui(input, |ui| app.show(ui));
        std::thread::sleep(std::time::Duration::from_millis(5));
        frame += 1;
    }
    for frame in 10..frames + 10 {
        if frame % 60 == 30 {
            resort(app, sorts);
            sorts += 1;
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
        times.push(start.elapsed().as_secs_f64() * 1e3);
        // Let background work finish at the pace a user would see it.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let (p50_ms, p95_ms, max_ms) = percentiles(&mut times);
    ViewFrames { view, frames: times.len(), sorts, p50_ms, p95_ms, max_ms }
}

/// Resident memory of this process in MB (Linux), 0 elsewhere.
fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// The most this process has been resident, in MB (Linux), 0 elsewhere.
fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

pub fn run(args: &GuiBenchOptions) -> anyhow::Result<()> {
    let rss_before_mb = rss_mb();
    // A scratch history folder: the benchmark must not touch the analyst's own history.
    let scratch = tempfile::tempdir()?;
    let mut app = NetVigilApp::new(scratch.path().to_path_buf());
    let ctx = egui::Context::default();
    match &args.model {
        Some(dir) => app.state.load_model(dir.display().to_string(), dir.clone(), &ctx),
        None => app.load_startup_model(&ctx),
    }
    // The model loads first, as in a window that was already open when the file is opened
    // (a file opened while it loads waits for it, to be scored while it is read).
    let model_started = Instant::now();
    while app.state.model_job.is_some() && model_started.elapsed().as_secs() < 600 {
        let _ = ctx.run_ui(egui::RawInput::default(), |ui| app.show(ui));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    eprintln!("model loaded in {:.2} s", model_started.elapsed().as_secs_f64());
    let opening = open_as_the_window_does(&mut app, &ctx, &args.inputs, &args.read)?;
    let rss_loaded_mb = rss_mb();
    let flows = app.state.flows.as_ref().map_or(0, |f| f.table.len());
    eprintln!("{flows} flows read and scored in {:.1} s, recorded after {:.1} s", opening.scored_s, opening.recorded_s);
    // The aggregation behind the conversations and endpoints views, timed alone (the views
    // run it on a worker thread).
    let started = Instant::now();
    let traffic = {
        let flows = app.state.flows.as_ref().ok_or_else(|| anyhow::anyhow!("no flows"))?;
        crate::service::traffic::traffic(
            &flows.table,
            flows.verdicts.as_deref().map(|v| v.as_slice()),
            Some(&flows.findings),
            None,
        )
    };
    let aggregation_ms = started.elapsed().as_secs_f64() * 1e3;
    let rss_aggregated_mb = rss_mb();
    let sorts = [SortColumn::PAttack, SortColumn::Source, SortColumn::Feature(0), SortColumn::Start, SortColumn::Row];
    let mut views = Vec::new();
    views.push(time_view(&mut app, &ctx, FlowsView::NAME, args.frames, &mut |app, k| {
        if let Some(view) = app.view_mut::<FlowsView>() {
            view.query.sort = sorts[k % sorts.len()];
        }
    }));
    use crate::service::traffic::{ConversationColumn, EndpointColumn};
    let conversation_sorts = [
        ConversationColumn::Flows,
        ConversationColumn::BytesAb,
        ConversationColumn::Start,
        ConversationColumn::MaxPAttack,
    ];
    views.push(time_view(&mut app, &ctx, ConversationsView::NAME, args.frames, &mut |app, k| {
        if let Some(view) = app.view_mut::<ConversationsView>() {
            view.query.sort = conversation_sorts[k % conversation_sorts.len()];
        }
    }));
    let endpoint_sorts =
        [EndpointColumn::Flows, EndpointColumn::Peers, EndpointColumn::PortsTouched, EndpointColumn::Flagged];
    views.push(time_view(&mut app, &ctx, EndpointsView::NAME, args.frames, &mut |app, k| {
        if let Some(view) = app.view_mut::<EndpointsView>() {
            view.query.sort = endpoint_sorts[k % endpoint_sorts.len()];
        }
    }));
    let result = GuiBench {
        flows,
        conversations: traffic.conversations.len(),
        endpoints: traffic.endpoints.len(),
        aggregation_ms,
        views,
        rss_before_mb,
        rss_loaded_mb,
        flows_mb: rss_loaded_mb - rss_before_mb,
        rss_aggregated_mb,
        rss_peak_mb: peak_rss_mb(),
        opening,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        let o = &result.opening;
        println!(
            "{} flows: first on screen after {:.2} s, with verdicts after {:.2} s, all scored after {:.2} s, recorded after {:.2} s ({} frames meanwhile: p95 {:.2} ms, max {:.2} ms)",
            result.flows, o.first_flows_s, o.first_verdicts_s, o.scored_s, o.recorded_s, o.frames, o.p95_ms, o.max_ms
        );
        println!(
            "resident: {:.0} MB with the flows and verdicts ({:.0} MB for them), peak {:.0} MB",
            result.rss_loaded_mb, result.flows_mb, result.rss_peak_mb
        );
        println!(
            "conversations and endpoints: {} and {} in {:.0} ms",
            result.conversations, result.endpoints, result.aggregation_ms
        );
        for v in &result.views {
            println!(
                "{}: {} frames while scrolling, {} re-sorts: frame p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
                v.view, v.frames, v.sorts, v.p50_ms, v.p95_ms, v.max_ms
            );
        }
    }
    Ok(())
}
