//! Cell values of the real CICIDS2017 files: every number shape CICFlowMeter writes, text,
//! NaN, infinity and empty cells in numeric columns, and the 2017 release's own defects.

use netvigil::features::FeatureId;
use netvigil::ingest::{IngestError, read_file};

use crate::common::{lenient, real_lines, shared, strict, value, write};

const IMPROVED_DDOS: &str = "cicids2017-improved/DDoS_5000.csv";
const MLCVE: &str = "cicids2017-original/MachineLearningCVE_Friday-DDos_head9998_BENIGN.csv";

/// Real rows with the `Flow IAT Max` cell of the second data row replaced.
fn with_cell(replacement: &str) -> (String, usize) {
    let (header, mut rows) = real_lines(IMPROVED_DDOS, 4);
    let col = header.split(',').position(|c| c == "Flow IAT Max").unwrap();
    let mut cells: Vec<String> = rows[1].split(',').map(str::to_string).collect();
    cells[col] = replacement.to_string();
    rows[1] = cells.join(",");
    (std::iter::once(header).chain(rows).collect::<Vec<_>>().join("\n") + "\n", col)
}

#[test]
fn text_in_a_numeric_column_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = with_cell("12ab");
    let path = write(&dir, "text.csv", text);
    let err = read_file(&path, &strict()).unwrap_err();
    match &err {
        IngestError::NotNumeric { line, column, value, .. } => {
            assert_eq!((*line, column.as_str(), value.as_str()), (3, "Flow IAT Max", "12ab"));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("text.csv, line 3, column 'Flow IAT Max'"), "{err}");

    let t = read_file(&path, &lenient()).unwrap();
    assert_eq!(t.len(), 3);
    let report = &t.sources[0].report;
    assert_eq!(report.dropped_rows, 1);
    assert_eq!(report.dropped_examples[0].line, 3);
    assert_eq!(t.meta().iter().map(|m| m.line).collect::<Vec<_>>(), vec![2, 4, 5]);
}

/// Feature cells of every shape CICFlowMeter writes: integers, short and 17-digit decimals,
/// mantissas past 2^53, values next to a midpoint between two f32s.
fn numeric_cells() -> Vec<String> {
    let mut cells: Vec<String> = [
        "0",
        "7",
        "35.0",
        "0.0",
        "5.",
        ".5",
        "16777217",
        "16777217.0",
        "9007199254740993",
        "1234567890123456789",
        "314.1111111111111",
        "702040.8163265307",
        "0.5665494475859612",
        "85.33333333333331",
        "16326.530612244898",
        "0.30000000000000004",
        "1e5",
        "2.5E-3",
    ]
    .map(str::to_string)
    .into();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let digits = 1 + (next() % 19) as usize;
        let text = format!("{:0digits$}", next() % 10u64.pow(digits as u32));
        let point = (next() % (digits as u64 + 1)) as usize;
        cells.push(format!("{}.{}", &text[..point], &text[point..]).trim_end_matches('.').to_string());
    }
    for _ in 0..1000 {
        let v = f32::from_bits(0x3f80_0000 + (next() % 0x0b00_0000) as u32);
        let midpoint = (f64::from(v) + f64::from(f32::from_bits(v.to_bits() + 1))) / 2.0;
        for step in [-1i64, 0, 1] {
            cells.push(format!("{}", f64::from_bits(midpoint.to_bits().wrapping_add_signed(step))));
        }
    }
    cells
}

#[test]
fn numbers_of_every_shape_read_as_the_nearest_f32() {
    let (header, rows) = real_lines(IMPROVED_DDOS, 1);
    let col = header.split(',').position(|c| c == "Flow IAT Max").unwrap();
    let cells = numeric_cells();
    let mut text = header + "\n";
    for cell in &cells {
        let mut fields: Vec<&str> = rows[0].split(',').collect();
        fields[col] = cell;
        text += &(fields.join(",") + "\n");
    }
    let dir = tempfile::tempdir().unwrap();
    let t = read_file(&write(&dir, "numbers.csv", text), &strict()).unwrap();
    assert_eq!(t.len(), cells.len());
    for (row, cell) in cells.iter().enumerate() {
        let got = value(&t, row, FeatureId::FlowIatMax);
        // The nearest f32; a 17-digit decimal may round through f64 first (one f32 ulp).
        let nearest: f32 = cell.parse().unwrap();
        let via_f64 = cell.parse::<f64>().unwrap() as f32;
        assert!(got == nearest || got == via_f64, "{cell:?} read as {got}, nearest is {nearest}");
    }
}

#[test]
fn nan_infinity_and_empty_cells_follow_the_policy_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    for (cell, expect) in
        [("NaN", "nan"), ("Infinity", "infinite"), ("-Infinity", "infinite"), ("", "empty"), ("-5", "negative")]
    {
        let (text, _) = with_cell(cell);
        let t = read_file(&write(&dir, "values.csv", text), &strict()).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(value(&t, 1, FeatureId::FlowIatMax), 0.0, "{cell:?} becomes 0");
        let c = t.sources[0].report.columns["Flow IAT Max"];
        let counted = match expect {
            "nan" => c.nan,
            "infinite" => c.infinite,
            "empty" => c.empty,
            _ => c.negative,
        };
        assert_eq!(counted, 1, "{cell:?} counted as {expect}");
    }
}

#[test]
fn real_defects_of_the_2017_release_are_repaired_and_counted() {
    // The first 9,998 rows of the original Friday DDoS file hold every defect of the policy.
    let t = read_file(&shared(MLCVE), &strict()).unwrap();
    let c = &t.sources[0].report.columns;
    assert_eq!(c["Init_Win_bytes_forward"].sentinel, 4634);
    assert_eq!(c["Init_Win_bytes_backward"].sentinel, 5886);
    assert_eq!(c["Flow Bytes/s"].infinite, 6);
    assert_eq!(c["Flow Bytes/s"].nan, 1);
    assert_eq!(c["Flow Packets/s"].infinite, 7);
    assert_eq!(c["Flow IAT Min"].negative, 9);
    let minus_one = (0..t.len()).filter(|&r| value(&t, r, FeatureId::InitWinBytesFwd) == -1.0).count();
    assert_eq!(minus_one, 4634, "the sentinel is kept");
    assert!(t.features().iter().all(|v| v.is_finite()), "no NaN or infinity reaches the table");
    assert!((0..t.len()).all(|r| value(&t, r, FeatureId::FlowIatMin) >= 0.0));
}
