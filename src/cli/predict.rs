//! `netvigil predict`: score flow files (or a stream of CSV on standard input) with a model.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use polars::prelude::{CsvWriter, SerWriter};

use super::InputArgs;
use super::progress::with_progress_bar;
use crate::detect::detect;
use crate::ingest::export::{OutputFormat, PendingFile};
use crate::model::inference::DeviceChoice;
use crate::service::{self, LoadedModel};

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model: a bundle folder (e.g. models/default) or a registry name; default: the active
    /// model, else the shipped one.
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Flow files, folders or globs; `-` reads CSV on standard input and scores it as it
    /// arrives (a streaming scorer for pipelines).
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: .csv or .parquet; `-` writes CSV to standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// `table`: every flow with its verdict (CSV or Parquet by the output's extension);
    /// `eve`: one Suricata EVE `alert` record per flagged flow, as JSON lines.
    #[arg(long, value_enum, default_value = "table")]
    pub format: PredictFormat,
    /// Add each flow's K most attributed features and their signed attributions (integrated
    /// gradients of the attack logit from the median benign training flow): `TopN Feature` and
    /// `TopN Attribution` columns. Costs about a forward and backward pass of 256 points per flow.
    #[arg(long, value_name = "K")]
    pub explain: Option<usize>,
}

/// What `predict` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PredictFormat {
    Table,
    Eve,
}

fn is_dash(p: &Path) -> bool {
    p.as_os_str() == "-"
}

pub fn run(args: &PredictArgs, data_dir: &Path) -> anyhow::Result<()> {
    let stdin = args.input.inputs.iter().any(|p| is_dash(p));
    anyhow::ensure!(!stdin || args.input.inputs.len() == 1, "'-' (standard input) cannot be mixed with files");
    if !is_dash(&args.output) && args.format == PredictFormat::Table {
        OutputFormat::from_path(&args.output)?;
    }
    let model = service::models::resolve_and_load(data_dir, args.model.as_deref(), args.device)?;
    if stdin {
        return stream(args, &model, data_dir);
    }
    // A capture's flows are scored as they finish, while the rest of it is read.
    let (read, mut along) = with_progress_bar(args.quiet, |task| {
        service::scored_reading::read_scoring(&args.input.inputs, &args.input.read_options(), &model, task, None)
    })?;
    anyhow::ensure!(read.stopped.is_none(), service::Cancelled);
    let table = read.table;
    eprintln!("model {}: {}", model.name, model.manifest.semantics_note(&table.semantics()));
    let findings = detect(&table);
    let explanations = match args.explain.filter(|&k| k > 0) {
        Some(_) => {
            Some(with_progress_bar(args.quiet, |task| service::explain::explain_rows(&model, table.features(), task))?)
        }
        None => None,
    };
    let batch = if args.format == PredictFormat::Eve {
        // Alerts need only the brief verdicts, written once the batch is scored.
        let batch = with_progress_bar(args.quiet, |task| {
            service::score_recorded_along(data_dir, &model, &table, &findings, None, along.take(), task)
        })?;
        write_eve(&args.output, &table, &batch.verdicts, &findings.per_flow(table.len()), &model.name)?;
        batch
    } else {
        let explain = explanations.as_deref().zip(args.explain).map(|(e, k)| (e, k.min(crate::features::N_FEATURES)));
        let mut out = TableOutput::new(&args.output, explain)?;
        let batch = with_progress_bar(args.quiet, |task| {
            service::score_recorded_along(data_dir, &model, &table, &findings, Some(&mut out), along.take(), task)
        })?;
        out.finish()?;
        batch
    };
    let attacks = batch.verdicts.iter().filter(|v| v.is_attack()).count();
    let unfamiliar = batch.verdicts.iter().filter(|v| v.unfamiliar).count();
    eprintln!(
        "scored {} flows on {} in {:.2} s ({:.0} flows/s): {} flagged as attacks, {} unfamiliar; wrote {} (batch {} in the history)",
        batch.verdicts.len(),
        model.backend,
        batch.seconds,
        batch.flows_per_s(),
        attacks,
        unfamiliar,
        args.output.display(),
        batch.batch_id,
    );
    eprintln!("{}", findings.headline());
    for f in &findings.findings {
        eprintln!("  {f}");
    }
    Ok(())
}

/// Where `predict` writes every flow with its verdict: a part at a time as the batch is scored
/// (`service::ResultsOutput`), so that ten million flows never stand as one frame; a file only
/// once it is whole (written beside it, renamed at the end), or CSV on standard output.
struct TableOutput<'a> {
    sink: Sink,
    /// Each flow's explanation and how many features of it to write.
    explain: Option<(&'a [crate::model::explain::Explanation], usize)>,
    /// The CSV header is written with the first part.
    header_written: bool,
}

/// Parquet's batched writer (polars also names its CSV one `BatchedWriter`).
type ParquetBatchedWriter = polars::io::parquet::write::BatchedWriter<std::fs::File>;

enum Sink {
    Stdout,
    Csv(PendingFile, std::io::BufWriter<std::fs::File>),
    Parquet(PendingFile, Option<ParquetBatchedWriter>),
}

impl<'a> TableOutput<'a> {
    fn new(output: &Path, explain: Option<(&'a [crate::model::explain::Explanation], usize)>) -> anyhow::Result<Self> {
        let sink = if is_dash(output) {
            Sink::Stdout
        } else {
            let file = PendingFile::new(output);
            match OutputFormat::from_path(output)? {
                OutputFormat::Csv => {
                    let out = std::io::BufWriter::new(file.create()?);
                    Sink::Csv(file, out)
                }
                OutputFormat::Parquet => Sink::Parquet(file, None),
            }
        };
        Ok(TableOutput { sink, explain, header_written: false })
    }

    /// Puts the file in place once every part is written (dropped before, it is removed).
    fn finish(self) -> anyhow::Result<()> {
        match self.sink {
            Sink::Stdout => std::io::stdout().flush()?,
            Sink::Csv(file, mut out) => {
                out.flush().map_err(|e| file.error(e))?;
                drop(out);
                file.commit()?;
            }
            Sink::Parquet(file, writer) => {
                let writer = writer.ok_or_else(|| file.error("no flows were written"))?;
                writer.finish().map_err(|e| file.error(e))?;
                drop(writer);
                file.commit()?;
            }
        }
        Ok(())
    }
}

impl service::ResultsOutput for TableOutput<'_> {
    fn part(
        &mut self,
        frame: &mut polars::prelude::DataFrame,
        _: &[crate::model::Verdict],
        rows: std::ops::Range<usize>,
    ) -> anyhow::Result<()> {
        if let Some((explanations, k)) = self.explain {
            *frame = crate::model::output::with_explanations(std::mem::take(frame), &explanations[rows], k)?;
        }
        let header = !std::mem::replace(&mut self.header_written, true);
        match &mut self.sink {
            Sink::Stdout => CsvWriter::new(&mut std::io::stdout().lock()).include_header(header).finish(frame)?,
            Sink::Csv(_, out) => CsvWriter::new(out).include_header(header).finish(frame)?,
            Sink::Parquet(file, writer) => {
                let writer = match writer {
                    Some(w) => w,
                    None => writer.insert(polars::prelude::ParquetWriter::new(file.create()?).batched(frame.schema())?),
                };
                writer.write_batch(frame)?;
            }
        }
        Ok(())
    }
}

/// Writes the flows of a scored batch that the model flags or a finding covers as EVE alerts
/// (JSON lines), atomically.
fn write_eve(
    output: &Path,
    table: &crate::ingest::FlowTable,
    verdicts: &[crate::model::BriefVerdict],
    findings: &[String],
    model: &str,
) -> anyhow::Result<()> {
    let (text, _) = crate::model::eve::eve_json_lines(table, verdicts, findings, model)?;
    if is_dash(output) {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    } else {
        crate::ingest::export::write_atomically(output, |f| f.write_all(text.as_bytes()))?;
    }
    Ok(())
}

/// `predict - -o OUT`: verdict rows as the flows arrive, in input order; a batch in the history.
fn stream(args: &PredictArgs, model: &LoadedModel, data_dir: &Path) -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let name = Path::new("<stdin>");
    let read = args.input.read_options();
    let summary = if is_dash(&args.output) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        service::task::quietly(|task| {
            service::stream::score_stream_recorded(data_dir, model, name, stdin, &mut out, &read, task)
        })?
    } else {
        anyhow::ensure!(
            OutputFormat::from_path(&args.output)? == OutputFormat::Csv,
            "a stream is written as CSV: use -o - or an .csv output"
        );
        let mut summary = None;
        crate::ingest::export::write_atomically(&args.output, |out| {
            let scored = service::task::quietly(|task| {
                service::stream::score_stream_recorded(data_dir, model, name, stdin, out, &read, task)
            });
            summary = Some(scored.map_err(|e| std::io::Error::other(format!("{e:#}")))?);
            Ok(())
        })?;
        summary.ok_or_else(|| anyhow::anyhow!("the stream was not scored"))?
    };
    if !args.quiet {
        eprintln!(
            "scored {} flows from standard input with {}: {} flagged as attacks, {} unfamiliar",
            summary.counts.flows, model.name, summary.counts.flagged, summary.unfamiliar
        );
    }
    Ok(())
}
