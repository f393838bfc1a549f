//! Model sizes, saved as `config.json` beside the weights so a bundle rebuilds the exact module.

use burn::config::Config;

use crate::features::{N_FEATURES, N_TABULAR, N_TEMPORAL};
use crate::ingest::label::AttackFamily;

/// FT-Transformer over the tabular features (Gorishniy et al. 2021).
#[derive(Config, Debug)]
pub struct FtTransformerConfig {
    /// Number of tokens, one per tabular feature.
    #[config(default = "N_TABULAR")]
    pub n_features: usize,
    /// Width of every token.
    #[config(default = 32)]
    pub d_token: usize,
    #[config(default = 1)]
    pub n_blocks: usize,
    #[config(default = 4)]
    pub n_heads: usize,
    /// Hidden width of the ReGLU feed-forward, as a multiple of `d_token` (the paper's 4/3).
    #[config(default = 1.3333333)]
    pub ffn_factor: f64,
    /// Dropout on the attention probabilities.
    #[config(default = 0.1)]
    pub attention_dropout: f64,
    /// Dropout inside the feed-forward, after the ReGLU.
    #[config(default = 0.05)]
    pub ffn_dropout: f64,
    /// Dropout on each residual branch before it is added back.
    #[config(default = 0.0)]
    pub residual_dropout: f64,
    /// Frequencies of the periodic embedding added to each feature's linear token (`None`:
    /// linear tokens only, as in bundles made before it). Optional so older `config.json`
    /// files, which lack the field, still load (as `None`); new models default to 8.
    #[config(default = "Some(8)")]
    pub periodic_frequencies: Option<usize>,
    /// Standard deviation of the periodic embedding's initial frequencies.
    pub periodic_sigma: Option<f64>,
}

impl FtTransformerConfig {
    pub fn d_ffn(&self) -> usize {
        ((self.d_token as f64 * self.ffn_factor).round() as usize).max(1)
    }
}

/// 1D-CNN over the temporal features in schema order.
#[derive(Config, Debug)]
pub struct TemporalCnnConfig {
    #[config(default = "N_TEMPORAL")]
    pub length: usize,
    /// Output channels of each conv → norm → activation block.
    #[config(default = "vec![16, 32]")]
    pub channels: Vec<usize>,
    #[config(default = 3)]
    pub kernel_size: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
}

/// Which experts the mixture holds: both for the product, one alone for the ablation.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ExpertSet {
    Both,
    TabularOnly,
    TemporalOnly,
}

impl ExpertSet {
    pub fn name(self) -> &'static str {
        match self {
            ExpertSet::Both => "moe",
            ExpertSet::TabularOnly => "tabular",
            ExpertSet::TemporalOnly => "temporal",
        }
    }
}

/// Slots in the gate: every verdict carries one weight per slot, in this order.
pub const N_EXPERTS: usize = 2;

/// One expert of the mixture as the analyst sees it: its slot in the gate, its name, and
/// which features it reads. Views, outputs and the server list experts from the bundle's
/// config through this, never by hard-coded names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExpertSpec {
    pub slot: usize,
    /// The architecture: "FT-Transformer".
    pub name: &'static str,
    /// One word for column names and metrics labels: "Tabular".
    pub short: &'static str,
    pub reads: crate::features::Expert,
}

impl ExpertSpec {
    /// Every slot of the gate, present in a bundle or not.
    pub const ALL: [ExpertSpec; N_EXPERTS] = [
        ExpertSpec { slot: 0, name: "FT-Transformer", short: "Tabular", reads: crate::features::Expert::Tabular },
        ExpertSpec { slot: 1, name: "1D-CNN", short: "Temporal", reads: crate::features::Expert::Temporal },
    ];
}

/// The whole Mixture-of-Experts detector.
#[derive(Config, Debug)]
pub struct MoeConfig {
    #[config(default = "FtTransformerConfig::new()")]
    pub tabular: FtTransformerConfig,
    #[config(default = "TemporalCnnConfig::new()")]
    pub temporal: TemporalCnnConfig,
    /// Hidden width of the gate's MLP over all 72 features.
    #[config(default = 16)]
    pub gate_hidden: usize,
    #[config(default = "N_FEATURES")]
    pub n_features: usize,
    /// One output per attack family (benign included); P(attack) = 1 − P(benign).
    #[config(default = "AttackFamily::N_CLASSES")]
    pub n_classes: usize,
    #[config(default = "ExpertSet::Both")]
    pub experts: ExpertSet,
}

impl MoeConfig {
    /// The experts this model holds (both, or one for the ablation), in gate order.
    pub fn expert_specs(&self) -> Vec<ExpertSpec> {
        ExpertSpec::ALL
            .into_iter()
            .filter(|e| match (self.experts, e.slot) {
                (ExpertSet::Both, _) => true,
                (ExpertSet::TabularOnly, slot) => slot == 0,
                (ExpertSet::TemporalOnly, slot) => slot == 1,
            })
            .collect()
    }

    /// Checks sizes a hand-edited `config.json` could get wrong, before any tensor is built.
    pub fn validate(&self) -> Result<(), String> {
        let t = &self.tabular;
        if self.n_features != N_FEATURES || t.n_features != N_TABULAR || self.temporal.length != N_TEMPORAL {
            return Err(format!(
                "feature counts {}/{}/{} do not match this program's schema {N_FEATURES}/{N_TABULAR}/{N_TEMPORAL}",
                self.n_features, t.n_features, self.temporal.length
            ));
        }
        if self.n_classes != AttackFamily::N_CLASSES {
            return Err(format!("{} classes, expected {}", self.n_classes, AttackFamily::N_CLASSES));
        }
        if t.d_token == 0 || t.n_heads == 0 || t.d_token % t.n_heads != 0 {
            return Err(format!("d_token {} must be a positive multiple of n_heads {}", t.d_token, t.n_heads));
        }
        if t.n_blocks == 0 || t.n_blocks > 16 || t.d_token > 1024 {
            return Err(format!("unreasonable transformer size: {} blocks of width {}", t.n_blocks, t.d_token));
        }
        let c = &self.temporal;
        if c.channels.is_empty()
            || c.channels.iter().any(|&ch| ch == 0 || ch > 1024)
            || c.kernel_size == 0
            || c.kernel_size > N_TEMPORAL
        {
            return Err(format!("unreasonable CNN size: channels {:?}, kernel {}", c.channels, c.kernel_size));
        }
        if self.gate_hidden == 0 || self.gate_hidden > 1024 {
            return Err(format!("unreasonable gate width {}", self.gate_hidden));
        }
        let dropouts = [t.attention_dropout, t.ffn_dropout, t.residual_dropout, c.dropout];
        if dropouts.iter().any(|p| !(0.0..1.0).contains(p)) {
            return Err(format!("dropout probabilities must lie in [0, 1): {dropouts:?}"));
        }
        Ok(())
    }
}
