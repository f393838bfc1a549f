//! `netvigil carve CAPTURE --flow ID... -o OUT.pcap`: the packets behind flows, for Wireshark.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::ingest::capture::carve::{FlowWindow, carve};
use crate::ingest::capture::{ExtractOptions, read_capture};

#[derive(Debug, Args)]
pub struct CarveArgs {
    /// The capture (pcap, pcapng, gzip) the flows come from.
    pub capture: PathBuf,
    /// Flows to carve: a flow's first packet number (its "Source Line" in `predict` output and
    /// in the window), or a Flow ID (every flow of that 5-tuple). Repeatable or comma-separated.
    #[arg(long = "flow", value_name = "ID", value_delimiter = ',', required = true)]
    pub flows: Vec<String>,
    /// The pcap to write (atomically).
    #[arg(short, long, value_name = "OUT.pcap")]
    pub output: PathBuf,
}

pub fn run(args: &CarveArgs) -> anyhow::Result<()> {
    // The flows' tuples and time spans come from extracting the capture as `predict` does.
    let (table, _) = read_capture(&args.capture, &ExtractOptions::default())?;
    let mut rows = Vec::new();
    for spec in &args.flows {
        let before = rows.len();
        let spec = spec.trim();
        match spec.parse::<u64>() {
            Ok(packet) => rows.extend(table.meta().iter().position(|m| m.line == packet)),
            Err(_) => rows.extend(
                table.meta().iter().enumerate().filter(|(_, m)| m.flow_id().as_deref() == Some(spec)).map(|(i, _)| i),
            ),
        }
        anyhow::ensure!(
            rows.len() > before,
            "{}: no flow '{spec}' (give a flow's first packet number or its Flow ID)",
            args.capture.display()
        );
    }
    let windows: Vec<FlowWindow> = rows.iter().filter_map(|&i| FlowWindow::of_row(&table, i)).collect();
    let report =
        carve(&args.capture, &windows, &args.output).with_context(|| format!("carving {}", args.capture.display()))?;
    eprintln!(
        "wrote {} of {} packets ({} flow(s)) to {}{}{}",
        report.frames_written,
        report.frames_read,
        windows.len(),
        args.output.display(),
        if report.fragments > 0 {
            format!("; {} non-first IP fragments not matched (no ports)", report.fragments)
        } else {
            String::new()
        },
        if report.other_link_type > 0 {
            format!("; {} frames of another link type left out", report.other_link_type)
        } else {
            String::new()
        },
    );
    Ok(())
}
