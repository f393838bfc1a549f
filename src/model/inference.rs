//! Scoring flows with a trained bundle: the API the CLI and the GUI share.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};

use super::bundle::{BundleError, ModelBundle};
use super::config::N_EXPERTS;
use super::familiarity::Familiarity;
use super::fused::{FusedAutoencoder, FusedMoe};
use super::model::MoeModel;
use super::preprocess::Preprocessor;
use crate::features::N_FEATURES;
use crate::ingest::label::AttackFamily;
use crate::ingest::table::FlowTable;

/// A flow is called an attack at P(attack) ≥ this unless the model chose another threshold on
/// its validation rows (`ModelBundle::alert_threshold`) or was calibrated on the analyst's
/// known-good traffic (`Scorer::threshold`).
pub const ATTACK_THRESHOLD: f32 = 0.5;
const N_CLASSES: usize = AttackFamily::N_CLASSES;

/// The model's answer for one flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// 1 − P(benign).
    pub p_attack: f32,
    /// Probability per family, indexed by `AttackFamily::index()`.
    pub family_probs: [f32; N_CLASSES],
    /// Weight of each expert, in the slots of `ExpertSpec::ALL` (they sum to 1).
    pub gate: [f32; N_EXPERTS],
    /// `Benign` below the threshold, else the most probable attack family; an attack of
    /// unknown family when the flow is unfamiliar.
    pub family: AttackFamily,
    /// Far from everything the model was trained on (see `model::familiarity`).
    pub unfamiliar: bool,
}

impl Verdict {
    /// A slot not scored yet (scoring fills every one it allocates).
    const PENDING: Verdict = Verdict {
        p_attack: 0.0,
        family_probs: [0.0; N_CLASSES],
        gate: [0.0; N_EXPERTS],
        family: AttackFamily::Benign,
        unfamiliar: false,
    };

    pub fn from_probs(family_probs: [f32; N_CLASSES], gate: [f32; N_EXPERTS], threshold: f32) -> Self {
        let p_attack = (1.0 - family_probs[AttackFamily::Benign.index()]).clamp(0.0, 1.0);
        let family = if p_attack >= threshold {
            let best = (1..N_CLASSES).max_by(|&a, &b| family_probs[a].total_cmp(&family_probs[b])).unwrap_or(1);
            AttackFamily::from_index(best).unwrap_or(AttackFamily::Dos)
        } else {
            AttackFamily::Benign
        };
        Self { p_attack, family_probs, gate, family, unfamiliar: false }
    }

    /// Marks the flow unfamiliar: a flagged flow keeps its score but no longer claims a
    /// family the model cannot vouch for.
    pub fn mark_unfamiliar(&mut self) {
        self.unfamiliar = true;
        if self.family.is_attack() {
            self.family = AttackFamily::UnknownAttack;
        }
    }

    pub fn is_attack(&self) -> bool {
        self.family.is_attack()
    }

    /// The verdict in a word or two, as the window shows it.
    pub fn label(&self) -> String {
        BriefVerdict::from(self).label()
    }
}

/// What the window and a recorded batch keep of each flow's verdict: 8 bytes where a whole
/// [`Verdict`] is 52, 440 MB less for ten million flows. Every view filters, sorts and counts
/// by these three; a flow's probabilities per family and gate weights are computed again when
/// it is inspected or exported (scoring is deterministic, whatever rows it is batched with).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BriefVerdict {
    pub p_attack: f32,
    pub family: AttackFamily,
    pub unfamiliar: bool,
}

const _: () = assert!(std::mem::size_of::<BriefVerdict>() == 8);

impl From<&Verdict> for BriefVerdict {
    fn from(v: &Verdict) -> Self {
        BriefVerdict { p_attack: v.p_attack, family: v.family, unfamiliar: v.unfamiliar }
    }
}

impl BriefVerdict {
    pub fn is_attack(&self) -> bool {
        self.family.is_attack()
    }

    /// The verdict in a word or two, as the window shows it.
    pub fn label(&self) -> String {
        match (self.unfamiliar, self.family) {
            (true, AttackFamily::Benign) => "benign (unfamiliar)".into(),
            (true, _) => "attack (unfamiliar)".into(),
            (false, f) => f.name().into(),
        }
    }
}

/// The brief verdicts of `verdicts`.
pub fn briefly(verdicts: &[Verdict]) -> Vec<BriefVerdict> {
    verdicts.iter().map(BriefVerdict::from).collect()
}

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum DeviceChoice {
    /// wgpu when a real (hardware) GPU adapter exists, else the CPU.
    Auto,
    /// The CPU: NetVigil's fused forward pass (burn-ndarray where gradients are needed).
    Cpu,
    /// wgpu on the best adapter, software (lavapipe) included.
    Gpu,
}

/// What a GPU adapter is, as wgpu reports it.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    /// lavapipe / llvmpipe / SwiftShader: a CPU pretending to be a GPU.
    pub is_software: bool,
}

/// Lists the adapters wgpu can open on this machine (empty when there are none).
pub fn gpu_adapters() -> Vec<AdapterSummary> {
    use burn::tensor::wgpu::wgpu;
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    // pollster, not a tokio runtime: this runs inside the GUI's tokio jobs too, where starting
    // a second runtime would panic.
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                name: info.name.clone(),
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                is_software: info.device_type == wgpu::DeviceType::Cpu,
            }
        })
        .collect()
}

/// A device and a human-readable description of it.
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    pub device: Device,
    pub description: String,
    pub is_gpu: bool,
}

#[allow(deprecated)] // burn 0.22 marks ndarray deprecated in favour of flex; the issue asks for ndarray.
pub fn cpu_device() -> Device {
    Device::ndarray()
}

pub fn wgpu_device() -> Device {
    Device::wgpu(DeviceKind::DefaultDevice)
}

/// Resolves `--device`. `gpu` fails with a clear error when wgpu finds no adapter at all.
pub fn select_device(choice: DeviceChoice) -> anyhow::Result<SelectedDevice> {
    let cpu = || SelectedDevice { device: cpu_device(), description: "cpu (fused)".into(), is_gpu: false };
    match choice {
        DeviceChoice::Cpu => Ok(cpu()),
        DeviceChoice::Auto => {
            let adapters = gpu_adapters();
            match adapters.iter().find(|a| !a.is_software) {
                Some(a) => Ok(SelectedDevice {
                    device: wgpu_device(),
                    description: format!("gpu (wgpu: {} via {})", a.name, a.backend),
                    is_gpu: true,
                }),
                None => Ok(cpu()),
            }
        }
        DeviceChoice::Gpu => {
            let adapters = gpu_adapters();
            let best = adapters.iter().find(|a| !a.is_software).or(adapters.first());
            match best {
                Some(a) => Ok(SelectedDevice {
                    device: wgpu_device(),
                    description: format!("gpu (wgpu: {} via {}, {})", a.name, a.backend, a.device_type),
                    is_gpu: true,
                }),
                None => anyhow::bail!(
                    "--device gpu: wgpu found no GPU adapter (install Vulkan/Metal/DX12 drivers, e.g. mesa-vulkan-drivers)"
                ),
            }
        }
    }
}

/// Runs the model (an ensemble's members: the mean of their logits) over preprocessed rows in
/// batches; returns (N×9 probabilities, N×2 gates).
pub fn predict_preprocessed(
    members: &[MoeModel],
    x: &[f32],
    device: &Device,
    batch_size: usize,
) -> (Vec<f32>, Vec<f32>) {
    let n = x.len() / N_FEATURES;
    let mut probs = Vec::with_capacity(n * N_CLASSES);
    let mut gates = Vec::with_capacity(n * N_EXPERTS);
    for start in (0..n).step_by(batch_size.max(1)) {
        let end = (start + batch_size.max(1)).min(n);
        let data = TensorData::new(x[start * N_FEATURES..end * N_FEATURES].to_vec(), [end - start, N_FEATURES]);
        let (p, g) = super::model::predict_mean(members, Tensor::<2>::from_data(data, device));
        probs.extend(tensor_to_vec(p));
        gates.extend(tensor_to_vec(g));
    }
    (probs, gates)
}

fn tensor_to_vec(t: Tensor<2>) -> Vec<f32> {
    // The model builds f32 tensors only, so the conversion cannot fail on a dtype mismatch.
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

/// Rows per tile of the fused CPU path, chosen by `netvigil bench` (README "Speed").
pub const FUSED_TILE: usize = 64;
/// Rows one scoring thread preprocesses at a time on the fused path (1.2 MB of inputs): the
/// working copy stays small however many flows are scored.
const FUSED_BLOCK: usize = 4096;

/// Turns flat outputs into verdicts, attacks at P(attack) ≥ `threshold`.
pub fn verdicts(probs: &[f32], gates: &[f32], threshold: f32) -> Vec<Verdict> {
    probs.chunks_exact(N_CLASSES).zip(gates.chunks_exact(N_EXPERTS)).map(|(p, g)| verdict(p, g, threshold)).collect()
}

fn verdict(probs: &[f32], gates: &[f32], threshold: f32) -> Verdict {
    let mut fp = [0f32; N_CLASSES];
    fp.copy_from_slice(probs);
    let mut gate = [0f32; N_EXPERTS];
    gate.copy_from_slice(gates);
    Verdict::from_probs(fp, gate, threshold)
}

/// The fused forward pass of a bundle's MoE and familiarity autoencoder, with its threshold.
#[derive(Debug)]
struct FusedPath {
    moe: FusedMoe,
    familiarity: Option<(FusedAutoencoder, f32)>,
}

/// Rows looked at together for repeats: a flood's repeats are close together in a capture's
/// start order, and a block bounds the memory of finding them (a map entry per row).
pub const DISTINCT_BLOCK_ROWS: usize = 1 << 16;

/// Scores flows with a loaded bundle; cheap to share across threads (`&self` everywhere).
#[derive(Debug, Clone)]
pub struct Scorer {
    /// The bundle's model, or its ensemble's members.
    members: Vec<MoeModel>,
    preprocessor: Preprocessor,
    familiarity: Option<Familiarity>,
    /// The hand-written CPU forward pass (`model::fused`), used whenever the device is the CPU.
    fused: Option<std::sync::Arc<FusedPath>>,
    device: Device,
    on_gpu: bool,
    /// Rows per forward pass (per tile of the fused path).
    pub batch_size: usize,
    /// CPU threads for large inputs (ndarray runs each forward pass on one core).
    pub threads: usize,
    /// P(attack) at which a flow is an attack: the bundle's own (`ModelBundle::alert_threshold`),
    /// or a calibration's.
    pub threshold: f32,
}

impl Scorer {
    /// A scorer on `selected`; on the CPU it splits large inputs over all cores.
    pub fn new(bundle: &ModelBundle, selected: &SelectedDevice) -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let fused = (!selected.is_gpu).then(|| {
            std::sync::Arc::new(FusedPath {
                moe: FusedMoe::ensemble(&bundle.members),
                familiarity: bundle
                    .familiarity
                    .as_ref()
                    .map(|f| (FusedAutoencoder::new(&f.model, &f.stats.feature_scale), f.stats.threshold)),
            })
        });
        Self {
            fused,
            members: bundle.members.iter().map(|m| m.clone().to_device(&selected.device).valid()).collect(),
            preprocessor: bundle.preprocessor.clone(),
            familiarity: bundle.familiarity.as_ref().map(|f| f.to_device(&selected.device)),
            device: selected.device.clone(),
            on_gpu: selected.is_gpu,
            // Chosen by `netvigil bench`: on the CPU the fused path's best tile is FUSED_TILE; on an
            // NVIDIA H100 through wgpu, 4,096 gave 111,000 flows/s against 40,000 at 256 (README
            // "Speed"). A flow's score never depends on its batch, so this changes speed only.
            batch_size: if selected.is_gpu { 4096 } else { FUSED_TILE },
            // A GPU already runs a batch in parallel; more host threads would only contend.
            threads: if selected.is_gpu { 1 } else { cores },
            threshold: bundle.alert_threshold(),
        }
    }

    /// Loads a bundle directory onto the chosen device.
    pub fn load(dir: &Path, choice: DeviceChoice) -> anyhow::Result<(Self, ModelBundle, SelectedDevice)> {
        let selected = select_device(choice)?;
        let bundle = ModelBundle::load(dir, &selected.device).map_err(|e: BundleError| anyhow::anyhow!(e))?;
        Ok((Self::new(&bundle, &selected), bundle, selected))
    }

    /// The same scorer running burn's graph on its device instead of the fused CPU path (for
    /// `netvigil bench` and the tests that hold the two against each other).
    pub fn with_burn_engine(mut self) -> Self {
        self.fused = None;
        self
    }

    /// What runs the model: "fused CPU", "burn ndarray" or "burn wgpu".
    pub fn engine(&self) -> &'static str {
        match (&self.fused, self.on_gpu) {
            (Some(_), _) => "fused CPU",
            (None, false) => "burn ndarray",
            (None, true) => "burn wgpu",
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn score_table(&self, table: &FlowTable) -> Vec<Verdict> {
        self.score_raw(table.features())
    }

    /// One raw row, e.g. after a what-if edit in the GUI.
    pub fn score_row(&self, row: &[f32; N_FEATURES]) -> Verdict {
        self.score_raw(row)[0]
    }

    /// Raw row-major `N×72` features → one verdict per row. Rows that repeat another row of
    /// the same block bit for bit are scored once (`model::distinct`: floods and scans are
    /// mostly such repeats); the verdicts are those of [`Scorer::score_each`].
    pub fn score_raw(&self, rows: &[f32]) -> Vec<Verdict> {
        let mut out = Vec::with_capacity(rows.len() / N_FEATURES);
        for block in rows.chunks(DISTINCT_BLOCK_ROWS * N_FEATURES) {
            match super::distinct::distinct_rows(block) {
                Some(d) => {
                    let scored = self.score_each(&d.rows);
                    out.extend(d.slot.iter().map(|&s| scored[s as usize]));
                }
                None => out.extend(self.score_each(block)),
            }
        }
        out
    }

    /// Every row through the model, repeats included (what `netvigil bench` times).
    pub fn score_each(&self, rows: &[f32]) -> Vec<Verdict> {
        if let Some(fused) = &self.fused {
            return self.score_fused(fused, rows);
        }
        let x = self.preprocessor.transform(rows);
        let mut verdicts = self.score_preprocessed(&x);
        if let Some(f) = &self.familiarity {
            for (v, unfamiliar) in verdicts.iter_mut().zip(f.unfamiliar(&x, &self.device)) {
                if unfamiliar {
                    v.mark_unfamiliar();
                }
            }
        }
        verdicts
    }

    /// An explainer of this scorer's verdicts (integrated gradients, see `model::explain`).
    pub fn explainer(&self) -> super::explain::Explainer {
        super::explain::Explainer::new(&self.members, &self.preprocessor, &self.device)
    }

    /// Preprocesses one raw row as scoring does.
    pub fn preprocess_row(&self, raw: &[f32; N_FEATURES]) -> [f32; N_FEATURES] {
        let mut out = [0f32; N_FEATURES];
        self.preprocessor.transform_row(raw, &mut out);
        out
    }

    /// Whether this scorer can mark flows unfamiliar (bundles older than it cannot).
    pub fn has_familiarity(&self) -> bool {
        self.familiarity.is_some()
    }

    /// The fused path: one contiguous share of the raw rows per core, each share preprocessed,
    /// scored `batch_size` flows a tile and turned into verdicts on its own thread (done once
    /// for all rows first, the preprocessing left the other core idle for a tenth of the time).
    /// Each thread scores its share of the rows a block at a time, writing the verdicts into
    /// its part of one output vector: a whole share preprocessed at once, and the parts then
    /// concatenated, held a second copy of the features and of the verdicts (3.4 GB at ten
    /// million flows).
    fn score_fused(&self, fused: &FusedPath, rows: &[f32]) -> Vec<Verdict> {
        let tile = self.batch_size.max(1);
        let n = rows.len() / N_FEATURES;
        let mut out = vec![Verdict::PENDING; n];
        let share = |raw: &[f32], out: &mut [Verdict]| {
            let block = FUSED_BLOCK.div_ceil(tile) * tile;
            for (raw, out) in raw.chunks(block * N_FEATURES).zip(out.chunks_mut(block)) {
                self.score_fused_block(fused, raw, tile, out);
            }
        };
        let threads = if n < 2 * tile { 1 } else { self.threads.clamp(1, 64) };
        let per_thread = n.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let rows = rows[..n * N_FEATURES].chunks(per_thread * N_FEATURES);
            for (raw, out) in rows.zip(out.chunks_mut(per_thread)) {
                scope.spawn(move || share(raw, out));
            }
        });
        out
    }

    fn score_fused_block(&self, fused: &FusedPath, raw: &[f32], tile: usize, out: &mut [Verdict]) {
        let x = self.preprocessor.transform(raw);
        let scored = fused.moe.run(&x, tile, fused.familiarity.as_ref().map(|(ae, _)| ae));
        let probs = scored.probs.chunks_exact(N_CLASSES).zip(scored.gates.chunks_exact(N_EXPERTS));
        for (slot, (p, g)) in out.iter_mut().zip(probs) {
            *slot = verdict(p, g, self.threshold);
        }
        if let Some((_, threshold)) = &fused.familiarity {
            for (v, score) in out.iter_mut().zip(&scored.anomaly) {
                if !(*score < *threshold) {
                    v.mark_unfamiliar();
                }
            }
        }
    }

    fn score_preprocessed(&self, x: &[f32]) -> Vec<Verdict> {
        let n = x.len() / N_FEATURES;
        let parts = per_share(x, self.threads, self.batch_size, |chunk| {
            predict_preprocessed(&self.members, chunk, &self.device, self.batch_size)
        });
        let (mut probs, mut gates) = (Vec::with_capacity(n * N_CLASSES), Vec::with_capacity(n * N_EXPERTS));
        for (p, g) in parts {
            probs.extend(p);
            gates.extend(g);
        }
        verdicts(&probs, &gates, self.threshold)
    }
}

/// `f` over one contiguous share of the rows (`N×72`) per thread, results in row order; one
/// share on this thread when `threads` is 1 or the rows make under two batches.
fn per_share<T: Send>(rows: &[f32], threads: usize, batch: usize, f: impl Fn(&[f32]) -> T + Sync) -> Vec<T> {
    let n = rows.len() / N_FEATURES;
    let threads = threads.clamp(1, 64);
    if threads == 1 || n < 2 * batch.max(1) {
        return vec![f(&rows[..n * N_FEATURES])];
    }
    let per_thread = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            rows[..n * N_FEATURES].chunks(per_thread * N_FEATURES).map(|chunk| scope.spawn(move || f(chunk))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}
