//! Scores as a table: the input's metadata beside each flow's verdict. Written by `predict`
//! and kept (as Parquet) for every scoring batch in the history.

use polars::prelude::{Column, DataFrame};

use crate::detect::Findings;
use crate::ingest::label::AttackFamily;
use crate::model::ExpertSpec;
use crate::model::inference::Verdict;

/// The input's metadata plus P(attack), predicted family, a probability per family and the
/// gate's weight per expert.
pub fn verdict_frame(mut df: DataFrame, verdicts: &[Verdict]) -> polars::prelude::PolarsResult<DataFrame> {
    let col = |name: &str, f: &dyn Fn(&Verdict) -> f32| {
        Column::new(name.into(), verdicts.iter().map(f).collect::<Vec<f32>>())
    };
    df.with_column(col("P(attack)", &|v| v.p_attack))?;
    df.with_column(Column::new(
        "Predicted Family".into(),
        verdicts.iter().map(|v| v.family.name()).collect::<Vec<_>>(),
    ))?;
    df.with_column(Column::new("Unfamiliar".into(), verdicts.iter().map(|v| v.unfamiliar).collect::<Vec<bool>>()))?;
    for family in AttackFamily::CLASSES {
        df.with_column(col(&format!("P({})", family.name()), &|v| v.family_probs[family.index()]))?;
    }
    for expert in ExpertSpec::ALL {
        df.with_column(col(&format!("Gate {}", expert.short), &|v| v.gate[expert.slot]))?;
    }
    Ok(df)
}

/// Adds the `Finding` column: for each flow, the labels of the host-level findings it is part
/// of ("portscan:vertical", comma-separated when several), empty for none. A scan's probes
/// look harmless one by one; this column says which flows the model cannot judge alone.
pub fn with_findings(df: DataFrame, findings: &Findings) -> polars::prelude::PolarsResult<DataFrame> {
    let rows = 0..df.height();
    with_findings_of(df, findings, rows)
}

/// [`with_findings`] for a frame of the flows in `rows` of the table.
pub fn with_findings_of(
    df: DataFrame,
    findings: &Findings,
    rows: std::ops::Range<usize>,
) -> polars::prelude::PolarsResult<DataFrame> {
    with_finding_labels(df, findings.per_flow_rows(rows))
}

/// Adds the `Finding` column of [`with_findings`] from each flow's labels.
pub fn with_finding_labels(mut df: DataFrame, labels: Vec<String>) -> polars::prelude::PolarsResult<DataFrame> {
    df.with_column(Column::new("Finding".into(), labels))?;
    Ok(df)
}

/// Adds, per flow, its `k` most attributed features and their signed attributions (integrated
/// gradients of the attack logit, see `model::explain`): `Top1 Feature`, `Top1 Attribution`,
/// ... `Topk Attribution`.
pub fn with_explanations(
    mut df: DataFrame,
    explanations: &[crate::model::explain::Explanation],
    k: usize,
) -> polars::prelude::PolarsResult<DataFrame> {
    let tops: Vec<Vec<(usize, f32)>> = explanations.iter().map(|e| e.top(k)).collect();
    for rank in 0..k {
        let names: Vec<Option<&str>> =
            tops.iter().map(|t| t.get(rank).map(|(j, _)| crate::features::FEATURES[*j].name)).collect();
        let values: Vec<Option<f32>> = tops.iter().map(|t| t.get(rank).map(|(_, a)| *a)).collect();
        df.with_column(Column::new(format!("Top{} Feature", rank + 1).into(), names))?;
        df.with_column(Column::new(format!("Top{} Attribution", rank + 1).into(), values))?;
    }
    Ok(df)
}
