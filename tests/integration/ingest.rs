//! Ingest on the real CICIDS2017 files of every dialect, and on every kind of bad input
//! (each derived from real rows).

use std::collections::BTreeMap;
use std::process::Command;

use netvigil::features::{FeatureId, N_FEATURES};
use netvigil::ingest::{AttackFamily, Dialect, IngestError, ReadOptions, export, read_file, read_flows};

use crate::common::{lenient, real_lines, shared, strict, value, write};

const IMPROVED_DDOS: &str = "cicids2017-improved/DDoS_5000.csv";
const MLCVE: &str = "cicids2017-original/MachineLearningCVE_Friday-DDos_head9998_BENIGN.csv";
const TRAFFIC: &str = "cicids2017-original/TrafficLabelling_Friday-DDos_head299_BENIGN.csv";
const V4: &str = "cicflowmeter-reference/official-test/test_v4header.csv";

#[test]
fn improved_release_has_all_rows_and_labels_of_the_readme() {
    let t = read_flows(&[shared("cicids2017-improved")], &strict()).unwrap();
    assert_eq!(t.len(), 43_419);
    assert!(t.sources.iter().all(|s| s.dialect == Dialect::Improved2021));
    let expected: BTreeMap<&str, u64> = [
        ("BENIGN", 5000),
        ("DDoS", 5000),
        ("DoS Hulk", 5000),
        ("DoS GoldenEye", 5000),
        ("Portscan", 5000),
        ("Infiltration - Portscan", 5000),
        ("DoS Slowloris", 3859),
        ("DoS Slowhttptest", 1740),
        ("FTP-Patator", 3972),
        ("SSH-Patator", 2961),
        ("Botnet", 736),
        ("Web Attack - Brute Force", 73),
        ("Infiltration", 36),
        ("Web Attack - XSS", 18),
        ("Web Attack - SQL Injection", 13),
        ("Heartbleed", 11),
    ]
    .into_iter()
    .collect();
    let got = t.label_counts();
    assert_eq!(got.len(), expected.len());
    for (label, n) in expected {
        assert_eq!(got.get(label), Some(&n), "label {label}");
    }
    let families = t.family_counts();
    assert_eq!(families[&AttackFamily::Benign], 5000);
    assert_eq!(families[&AttackFamily::Webattack], 73 + 18 + 13);
    assert_eq!(families[&AttackFamily::Bruteforce], 3972 + 2961);
    // Every flow has its identifiers and a capture day in the week of 3-7 July 2017.
    assert!(t.meta().iter().all(|m| m.src_ip().is_some() && m.dst_port.is_some()));
    assert!(t.meta().iter().all(|m| m.weekday().is_some_and(|d| d < 5)));
    // The corrected sample repeats rows (GoldenEye above all): they are counted.
    assert!(t.duplicate_count() > 1000);
}

#[test]
fn inspect_command_reports_the_improved_release() {
    let files: Vec<_> = std::fs::read_dir(shared("cicids2017-improved")).unwrap().map(|e| e.unwrap().path()).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_netvigil")).arg("inspect").args(&files).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rows"], 43_419);
    assert_eq!(json["files"].as_array().unwrap().len(), 16);
    assert_eq!(json["labels"]["Heartbleed"], 11);
    assert_eq!(json["families"]["dos"], 5000 * 2 + 3859 + 1740);
    assert!(json["duplicate_rows"].as_u64().unwrap() > 0);
}

#[test]
fn original_release_dialects_are_recognised() {
    let ml = read_file(&shared(MLCVE), &strict()).unwrap();
    assert_eq!(ml.sources[0].dialect, Dialect::MachineLearningCve);
    assert_eq!(ml.len(), 9998);
    assert!(ml.meta()[0].dst_port.is_some() && ml.meta()[0].src_ip().is_none());
    // `Fwd Header Length` appears twice in this dialect; the repeat is reported.
    assert!(ml.sources[0].report.warnings.iter().any(|w| w.contains("Fwd Header Length")));
    assert_eq!(ml.family_counts()[&AttackFamily::Benign], 9998);

    let tl = read_file(&shared(TRAFFIC), &strict()).unwrap();
    assert_eq!(tl.sources[0].dialect, Dialect::TrafficLabelling);
    assert_eq!(tl.len(), 299);
    let m = &tl.meta()[0];
    assert_eq!(m.flow_id().as_deref(), Some("192.168.10.5-104.16.207.165-54865-443-6"));
    assert_eq!(m.src_port, Some(443));
    assert_eq!(m.protocol, Some(6));
    assert_eq!(m.weekday(), Some(4), "7/7/2017 was a Friday");
    assert_eq!(value(&tl, 0, FeatureId::FlowDuration), 3.0);
}

#[test]
fn flow_ids_come_back_exactly_as_written_whether_kept_or_rebuilt() {
    // IDs that are the flow's 5-tuple (forward or reversed) are rebuilt from it rather than
    // kept per flow; every other spelling is kept as written. Either way the text is the same.
    let (header, lines) = real_lines(TRAFFIC, 6);
    let ids = [
        "192.168.10.5-104.16.207.165-54865-443-6",
        "104.16.207.165-192.168.10.5-443-54865-6",
        "192.168.10.5-104.16.207.165-054865-443-6",
        "not-a-tuple",
        "",
        "10.0.0.1-10.0.0.2-54865-443-6",
    ];
    let body: Vec<String> = lines
        .iter()
        .zip(ids)
        .map(|(line, id)| {
            let mut cells: Vec<&str> = line.split(',').collect();
            cells[0] = id;
            (cells[1], cells[2], cells[3], cells[4]) = ("104.16.207.165", "443", "192.168.10.5", "54865");
            cells.join(",")
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "ids.csv", format!("{header}\n{}\n", body.join("\n")));
    let table = read_file(&path, &strict()).unwrap();
    for (m, id) in table.meta().iter().zip(ids) {
        assert_eq!(m.flow_id().as_deref(), (!id.is_empty()).then_some(id));
    }
    assert_eq!(table.meta()[0].id(), netvigil::ingest::FlowId::Reversed);
    assert_eq!(table.meta()[1].id(), netvigil::ingest::FlowId::Forward);
    // Exported and read again, every ID is still the one written.
    let out = dir.path().join("again.csv");
    netvigil::ingest::export::write_table(&table, &out).unwrap();
    let again = read_file(&out, &strict()).unwrap();
    assert_eq!(
        again.meta().iter().map(|m| m.flow_id().map(|c| c.into_owned())).collect::<Vec<_>>(),
        ids.map(|i| (!i.is_empty()).then(|| i.to_string()))
    );
}

#[test]
fn cicflowmeter_reference_headers_are_recognised() {
    let v4 = read_file(&shared(V4), &strict()).unwrap();
    assert_eq!(v4.sources[0].dialect, Dialect::CicFlowMeterV4);
    assert_eq!(v4.len(), 96);
    assert!(v4.labels().is_none(), "'No Label' rows are unlabelled");
    let v3 = read_file(&shared("cicflowmeter-reference/official-test/test_v3header_nolabel.csv"), &strict()).unwrap();
    assert_eq!(v3.sources[0].dialect, Dialect::CicFlowMeterV3);
    let cic = read_file(&shared("cicflowmeter-reference/official-test/test.pcap_CIC.csv"), &strict()).unwrap();
    assert_eq!(cic.sources[0].dialect, Dialect::TrafficLabelling);
    // The three outputs of the official tool for one capture carry the same features.
    assert_eq!(v4.features(), v3.features());
    assert_eq!(v4.features(), cic.features());
    let single = read_file(&shared("cicflowmeter-reference/cicids2017-single-flow/sample.csv"), &strict()).unwrap();
    assert_eq!(single.sources[0].dialect, Dialect::Improved2021);
    assert_eq!(single.len(), 1);
}

/// The Python `cicflowmeter` writes the V4 names in snake_case (`flow_byts_s`, `tot_fwd_pkts`,
/// `init_fwd_win_byts`), as do re-exported copies of CSE-CIC-IDS2018 (`Flow_Byts_s`): the
/// official tool's own V4 output with its header so written reads to the same table.
#[test]
fn snake_case_headers_of_the_python_cicflowmeter_are_read_as_v4() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(V4, 96);
    let snake = |name: &str, upper: bool| {
        let words: Vec<String> =
            name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_string()).collect();
        let joined = words.join("_");
        if upper { joined } else { joined.to_lowercase() }
    };
    let v4 = read_file(&shared(V4), &strict()).unwrap();
    for upper in [false, true] {
        let head = header.split(',').map(|h| snake(h, upper)).collect::<Vec<_>>().join(",");
        assert!(head.contains(if upper { "Flow_Byts_s" } else { "flow_byts_s" }), "{head}");
        let text = std::iter::once(head).chain(rows.iter().cloned()).collect::<Vec<_>>().join("\n");
        let t = read_file(&write(&dir, "flows.csv", text), &strict()).unwrap();
        assert_eq!(t.sources[0].dialect, Dialect::CicFlowMeterV4);
        assert_eq!(t.features(), v4.features());
        assert_eq!(t.meta(), v4.meta());
    }
}

/// Matching ignores case, spaces and punctuation, and still no two features' spellings meet.
#[test]
fn no_two_features_share_a_normalised_spelling() {
    let mut seen = std::collections::HashMap::new();
    for (i, f) in netvigil::features::FEATURES.iter().enumerate() {
        for s in f.spellings() {
            let key = netvigil::features::normalize_column_name(s);
            assert!(!key.is_empty());
            assert_eq!(*seen.entry(key.clone()).or_insert(i), i, "'{s}' ({key}) meets another feature's spelling");
        }
    }
    assert_eq!(netvigil::features::normalize_column_name(" Flow Byts/s"), "flow byts s");
    assert_eq!(netvigil::features::normalize_column_name("\u{feff}Init_Win_bytes_forward"), "init win bytes forward");
}

/// NetVigil reads back the Parquet it writes (`convert`, `extract`, `predict -o x.parquet`):
/// the same features, addresses, times and labels as the CSV it came from, a row number where
/// the CSV had a line; from a folder too.
#[test]
fn parquet_tables_read_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let csv = read_file(&shared(TRAFFIC), &strict()).unwrap();
    let path = dir.path().join("flows.parquet");
    export::write_table(&csv, &path).unwrap();
    for t in [read_file(&path, &strict()).unwrap(), read_flows(&[dir.path().to_path_buf()], &strict()).unwrap()] {
        assert_eq!(t.sources[0].dialect, Dialect::NetVigilExport);
        assert_eq!(t.len(), csv.len());
        assert_eq!(t.features(), csv.features());
        let same = |m: &netvigil::ingest::FlowMeta| {
            (
                m.src_ip(),
                m.dst_ip(),
                m.src_port,
                m.dst_port,
                m.protocol,
                m.timestamp_us(),
                m.flow_id().map(|c| c.into_owned()),
            )
        };
        assert!(t.meta().iter().zip(csv.meta()).all(|(a, b)| same(a) == same(b)));
        assert_eq!(t.meta().iter().map(|m| m.line).collect::<Vec<_>>(), (1..=csv.len() as u64).collect::<Vec<_>>());
        let (a, b) = (t.labels().unwrap(), csv.labels().unwrap());
        assert!(a.iter().zip(b.iter()).all(|(x, y)| x == y));
    }
}

/// Bad Parquet is refused as bad CSV is: text where numbers belong names the column, an
/// unknown label names the row (--lenient drops it), other columns are no flow records.
#[test]
fn bad_parquet_names_its_column_or_row() {
    use polars::prelude::{Column, ParquetWriter};
    let dir = tempfile::tempdir().unwrap();
    let csv = read_file(&shared(TRAFFIC), &strict()).unwrap();
    let write_frame = |name: &str, edit: &dyn Fn(&mut polars::prelude::DataFrame)| {
        let mut frame = export::table_frame(&csv).unwrap();
        edit(&mut frame);
        let path = dir.path().join(name);
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut frame).unwrap();
        path
    };
    let n = csv.len();
    let text = write_frame("text.parquet", &|f| {
        f.with_column(Column::new("Flow IAT Max".into(), vec!["12ab"; n])).unwrap();
    });
    let err = read_file(&text, &strict()).unwrap_err().to_string();
    assert!(err.contains("text.parquet") && err.contains("'Flow IAT Max'") && err.contains("not numbers"), "{err}");
    let labels = write_frame("labels.parquet", &|f| {
        let mut labels: Vec<String> = csv.labels().unwrap().iter().map(|l| l.raw.to_string()).collect();
        labels[2] = "Mystery".into();
        f.with_column(Column::new("Label".into(), labels)).unwrap();
    });
    let err = read_file(&labels, &strict()).unwrap_err().to_string();
    assert!(err.contains("line 3, column 'Label': 'Mystery'"), "{err}");
    let lenient_read = read_file(&labels, &lenient()).unwrap();
    assert_eq!(lenient_read.len(), n - 1);
    assert_eq!(lenient_read.sources[0].report.dropped_rows, 1);
    assert_eq!(
        &lenient_read.features()[2 * N_FEATURES..3 * N_FEATURES],
        &csv.features()[3 * N_FEATURES..4 * N_FEATURES]
    );
    let other = write_frame("other.parquet", &|f| {
        *f = polars::prelude::DataFrame::new_infer_height(vec![Column::new("price".into(), vec![1.0f32; 3])]).unwrap();
    });
    let err = read_file(&other, &strict()).unwrap_err().to_string();
    assert!(err.contains("not CICFlowMeter columns"), "{err}");
}

/// A damaged Parquet file is an error naming it, never a crash: bytes flipped in its footer,
/// where polars-parquet 0.55 panicked on one of them ("thrift bool field").
#[test]
fn damaged_parquet_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let table = read_file(&shared(IMPROVED_DDOS), &strict()).unwrap();
    let path = dir.path().join("flows.parquet");
    export::write_table(&table, &path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let damaged = dir.path().join("damaged.parquet");
    let mut errors = 0;
    // The footer (schema and row-group metadata) is the last few kilobytes.
    for k in 0..48 {
        let mut bytes = good.clone();
        let at = good.len() - 12 - (k * 251) % 12_000;
        for (i, b) in bytes[at..at + 8].iter_mut().enumerate() {
            *b ^= 0x5a ^ (k as u8).wrapping_mul(31).wrapping_add(i as u8);
        }
        std::fs::write(&damaged, &bytes).unwrap();
        if let Err(e) = read_file(&damaged, &strict()) {
            assert!(e.to_string().contains("damaged.parquet"), "{e}");
            errors += 1;
        }
    }
    assert!(errors > 24, "{errors} of 48 damaged footers refused");
}

#[test]
fn chunked_reading_gives_the_same_table() {
    let whole = read_file(&shared(IMPROVED_DDOS), &strict()).unwrap();
    let chunked = read_file(&shared(IMPROVED_DDOS), &ReadOptions { chunk_bytes: 50_000, ..strict() }).unwrap();
    assert_eq!(whole.features(), chunked.features());
    assert_eq!(whole.meta(), chunked.meta());
    assert_eq!(chunked.meta().last().unwrap().line, 5001);
}

#[test]
fn missing_file_names_the_path() {
    let err = read_file(&shared("no-such-file.csv"), &strict()).unwrap_err();
    assert!(matches!(err, IngestError::Io { .. }));
    assert!(err.to_string().contains("no-such-file.csv"), "{err}");
}

#[test]
fn empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_file(&write(&dir, "empty.csv", ""), &strict()).unwrap_err();
    assert!(matches!(err, IngestError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("empty.csv"));
}

#[test]
fn header_only_is_an_empty_table_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (header, _) = real_lines(IMPROVED_DDOS, 0);
    let t = read_file(&write(&dir, "header.csv", format!("{header}\n")), &strict()).unwrap();
    assert_eq!(t.len(), 0);
    assert!(t.sources[0].report.warnings.iter().any(|w| w.contains("no data rows")));
}

#[test]
fn unknown_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "other.csv", "name,age,city\nalice,30,paris\n");
    let err = read_file(&path, &strict()).unwrap_err();
    assert!(matches!(err, IngestError::UnknownHeader { recognised: 0, .. }), "{err}");
    assert!(err.to_string().contains("line 1") && err.to_string().contains("'name'"));
}

/// Found by the CSV fuzz target: the error's preview of an unknown header was cut at a byte
/// inside a multi-byte character and panicked (headers in other scripts, or invalid UTF-8
/// shown as U+FFFD).
#[test]
fn unknown_header_of_multibyte_names_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let long_name = "é".repeat(150);
    let path = write(&dir, "accents.csv", format!("{long_name},Flow ID\n1,2\n"));
    let err = read_file(&path, &strict()).unwrap_err();
    assert!(matches!(err, IngestError::UnknownHeader { .. }), "{err}");
    let mut bytes = b"\rid,Flow ID,Src IP'Src ration,Total Fwd Packe\rid,Flow ID,Srt".to_vec();
    bytes.extend([b'/'; 15]);
    bytes.extend([0x94; 200]);
    bytes.extend(b"\n1,2\n");
    let path = write(&dir, "invalid.csv", bytes);
    assert!(read_file(&path, &lenient()).is_err(), "an unknown header is an error");
}

#[test]
fn missing_required_columns_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(IMPROVED_DDOS, 3);
    // Drop two required columns (by name) from the header and every row.
    let cols: Vec<&str> = header.split(',').collect();
    let drop: Vec<usize> = cols
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == "Flow IAT Max" || **c == "Bwd Init Win Bytes")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(drop.len(), 2);
    let cut = |line: &str| {
        line.split(',').enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, v)| v).collect::<Vec<_>>().join(",")
    };
    let mut text = cut(&header) + "\n";
    for r in &rows {
        text += &(cut(r) + "\n");
    }
    let err = read_file(&write(&dir, "missing.csv", text), &strict()).unwrap_err();
    match &err {
        IngestError::MissingColumns { missing, .. } => {
            assert_eq!(missing, &vec!["Flow IAT Max".to_string(), "Bwd Init Win Bytes".to_string()])
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn missing_optional_columns_are_imputed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(IMPROVED_DDOS, 3);
    let cols: Vec<&str> = header.split(',').collect();
    let drop = cols.iter().position(|c| *c == "ECE Flag Count").unwrap();
    let cut = |line: &str| {
        line.split(',').enumerate().filter(|(i, _)| *i != drop).map(|(_, v)| v).collect::<Vec<_>>().join(",")
    };
    let text = std::iter::once(cut(&header)).chain(rows.iter().map(|r| cut(r))).collect::<Vec<_>>().join("\n");
    let t = read_file(&write(&dir, "optional.csv", text), &strict()).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.sources[0].report.imputed_columns, vec!["ECE Flag Count".to_string()]);
    assert!((0..3).all(|r| value(&t, r, FeatureId::EceFlagCount) == 0.0));
}

#[test]
fn a_binary_file_is_refused() {
    // A capture is read as one (tests/integration/capture.rs); a binary file that is neither
    // a capture nor CSV is refused: here a real capture whose magic number is damaged.
    let mut bytes = std::fs::read(shared("pcaps/normal/http.pcap")).unwrap();
    bytes[..4].copy_from_slice(b"\0\0\0\0");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("http.pcap");
    std::fs::write(&path, bytes).unwrap();
    let err = read_file(&path, &strict()).unwrap_err();
    assert!(matches!(err, IngestError::Binary { .. }), "{err}");
    assert!(err.to_string().contains("http.pcap"));
}

#[test]
fn utf8_bom_and_crlf_read_like_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(TRAFFIC, 20);
    let plain = std::iter::once(header.clone()).chain(rows.clone()).collect::<Vec<_>>().join("\n") + "\n";
    let crlf = plain.replace('\n', "\r\n");
    let bom = format!("\u{feff}{plain}");
    let a = read_file(&write(&dir, "plain.csv", &plain), &strict()).unwrap();
    let b = read_file(&write(&dir, "crlf.csv", &crlf), &strict()).unwrap();
    let c = read_file(&write(&dir, "bom.csv", &bom), &strict()).unwrap();
    assert_eq!(a.len(), 20);
    assert_eq!(a.features(), b.features());
    assert_eq!(a.features(), c.features());
    assert_eq!(a.labels(), b.labels());
    assert_eq!(c.sources[0].dialect, Dialect::TrafficLabelling);
}

#[test]
fn ragged_rows_are_errors_or_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (header, mut rows) = real_lines(TRAFFIC, 3);
    rows[2] = rows[2].rsplitn(4, ',').last().unwrap().to_string();
    let text = std::iter::once(header).chain(rows).collect::<Vec<_>>().join("\n");
    let path = write(&dir, "ragged.csv", text);
    let err = read_file(&path, &strict()).unwrap_err();
    assert!(matches!(err, IngestError::FieldCount { line: 4, .. }), "{err}");
    assert_eq!(read_file(&path, &lenient()).unwrap().len(), 2);
}

#[test]
fn windows_1252_dash_in_web_attack_labels_is_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines("cicids2017-improved/Web_Attack_-_XSS_18.csv", 2);
    let mut bytes = format!("{header}\n").into_bytes();
    for r in rows {
        // The 2017 release spells this label with a Windows-1252 en dash (byte 0x96).
        bytes.extend(
            r.replace("Web Attack - XSS", "Web Attack \u{1} XSS")
                .into_bytes()
                .iter()
                .map(|&b| if b == 1 { 0x96 } else { b }),
        );
        bytes.push(b'\n');
    }
    let t = read_file(&write(&dir, "xss.csv", bytes), &strict()).unwrap();
    let labels = t.labels().unwrap();
    assert!(labels.iter().all(|l| l.family == AttackFamily::Webattack));
    assert!(labels[0].raw.contains('\u{fffd}'));
}

/// CSE-CIC-IDS2018 (CICFlowMeter-V4 names, some files concatenated with their headers) and
/// CIC-DDoS2019 labels, on the official tool's own V4 output: every label has its family and
/// the repeated header is skipped, read strictly.
#[test]
fn cse_cic_ids2018_and_cic_ddos2019_labels_and_repeated_headers_are_read() {
    use AttackFamily::*;
    let labels = [
        ("Benign", Benign),
        ("FTP-BruteForce", Bruteforce),
        ("SSH-Bruteforce", Bruteforce),
        ("DoS attacks-GoldenEye", Dos),
        ("DoS attacks-SlowHTTPTest", Dos),
        ("DDoS attacks-LOIC-HTTP", Ddos),
        ("DDOS attack-HOIC", Ddos),
        ("DDOS attack-LOIC-UDP", Ddos),
        ("Brute Force -Web", Webattack),
        ("Brute Force -XSS", Webattack),
        ("SQL Injection", Webattack),
        ("Infilteration", Infiltration),
        ("Bot", Botnet),
        ("DrDoS_NTP", Ddos),
        ("DrDoS_NetBIOS", Ddos),
        ("Syn", Ddos),
        ("UDP-lag", Ddos),
        ("WebDDoS", Ddos),
        ("Portmap", Ddos),
        ("MSSQL", Ddos),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(V4, 40);
    let mut lines = vec![header.clone()];
    for (i, row) in rows.iter().enumerate() {
        if i == 25 {
            lines.push(header.clone());
        }
        lines.push(row.replace("No Label", labels[i % labels.len()].0));
    }
    let path = write(&dir, "Friday-16-02-2018.csv", lines.join("\n"));
    let t = read_file(&path, &strict()).unwrap();
    let report = &t.sources[0].report;
    assert_eq!(t.len(), 40);
    assert_eq!(report.repeated_headers, 1);
    assert_eq!(report.dropped_rows, 0);
    for (i, l) in t.labels().unwrap().iter().enumerate() {
        assert_eq!((&*l.raw, l.family), labels[i % labels.len()], "row {i}");
    }
    // An application's name where a label belongs is still no attack label.
    let other = write(&dir, "apps.csv", [header.as_str(), &rows[0].replace("No Label", "DNS")].join("\n"));
    assert!(matches!(read_file(&other, &strict()).unwrap_err(), IngestError::UnknownLabel { line: 2, .. }));
}

/// The 2017 release's Thursday web-attack file (TrafficLabelling) ends in 288,602 lines of
/// commas alone: they are no flows, skipped and counted, never an unknown label.
#[test]
fn lines_of_empty_cells_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(TRAFFIC, 5);
    let commas = ",".repeat(header.matches(',').count());
    let mut lines = vec![header];
    lines.extend(rows[..2].iter().cloned());
    lines.push(commas.clone());
    lines.extend(rows[2..].iter().cloned());
    lines.extend([commas.clone(), commas.replace(",", " ,"), commas]);
    let t = read_file(
        &write(&dir, "Thursday-WorkingHours-Morning-WebAttacks.pcap_ISCX.csv", lines.join("\r\n")),
        &strict(),
    )
    .unwrap();
    assert_eq!(t.len(), 5);
    assert_eq!(t.sources[0].report.empty_records, 4);
    assert_eq!(t.meta()[2].line, 5, "lines keep their numbers");
}

/// A CICFlowMeter file whose Label column holds no attack labels (CIC-Darknet2020 labels its
/// flows `Non-Tor`, `NonVPN`, `Tor`, `VPN`) is refused naming the way out, read without labels
/// when asked, and read without labels, saying why, where labels are only wanted if known (the
/// window); a file of known labels keeps them.
#[test]
fn foreign_labels_can_be_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(TRAFFIC, 4);
    let classes = ["Non-Tor", "NonVPN", "Tor", "VPN"];
    let text = std::iter::once(header)
        .chain(rows.iter().zip(classes).map(|(r, c)| r.replace("BENIGN", c)))
        .collect::<Vec<_>>()
        .join("\n");
    let path = write(&dir, "Darknet.csv", text);
    let err = read_file(&path, &strict()).unwrap_err().to_string();
    assert!(err.contains("'Non-Tor'") && err.contains("--ignore-labels"), "{err}");
    let ignored = read_file(&path, &ReadOptions { ignore_labels: true, ..strict() }).unwrap();
    assert_eq!(ignored.len(), 4);
    assert!(ignored.labels().is_none());
    let if_known = ReadOptions { labels_if_known: true, ..strict() };
    let shown = read_file(&path, &if_known).unwrap();
    assert_eq!((shown.len(), shown.labels().is_none()), (4, true));
    assert_eq!(shown.features(), ignored.features());
    let why = shown.sources[0].report.labels_not_read.clone().unwrap();
    assert!(why.contains("'Non-Tor' at line 2"), "{why}");
    let known = read_file(&shared(TRAFFIC), &if_known).unwrap();
    assert!(known.labels().is_some() && known.sources[0].report.labels_not_read.is_none());
}

#[test]
fn unknown_labels_are_errors_or_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (header, mut rows) = real_lines(TRAFFIC, 3);
    rows[1] = rows[1].replace("BENIGN", "Mystery");
    let text = std::iter::once(header).chain(rows).collect::<Vec<_>>().join("\n");
    let path = write(&dir, "labels2.csv", text);
    let err = read_file(&path, &strict()).unwrap_err();
    assert!(matches!(err, IngestError::UnknownLabel { line: 3, .. }), "{err}");
    assert_eq!(read_file(&path, &lenient()).unwrap().len(), 2);
}

#[test]
fn problems_are_met_in_line_order_whatever_the_chunk_size() {
    // Unknown labels and cells that are no number, mixed, near the start and past the first
    // 64 KiB: strict mode stops at the first of them, and --lenient lists them in line
    // order, read in one chunk or several.
    let dir = tempfile::tempdir().unwrap();
    let (header, mut rows) = real_lines(TRAFFIC, 299);
    let col = header.split(',').position(|c| c.trim() == "Flow IAT Max").unwrap();
    let bad_cell = |row: &str| {
        let mut cells: Vec<&str> = row.split(',').collect();
        cells[col] = "12ab";
        cells.join(",")
    };
    for line in [3, 7, 260] {
        rows[line - 2] = rows[line - 2].replace("BENIGN", "Mystery");
    }
    for line in [5, 250] {
        rows[line - 2] = bad_cell(&rows[line - 2]);
    }
    let text = std::iter::once(header).chain(rows).collect::<Vec<_>>().join("\n") + "\n";
    assert!(text.len() > 1 << 17, "several chunks of 64 KiB");
    let path = write(&dir, "problems.csv", text);
    for chunk_bytes in [ReadOptions::default().chunk_bytes, 1 << 16] {
        let err = read_file(&path, &ReadOptions { chunk_bytes, ..strict() }).unwrap_err();
        assert!(matches!(err, IngestError::UnknownLabel { line: 3, .. }), "{err}");
        let t = read_file(&path, &ReadOptions { chunk_bytes, ..lenient() }).unwrap();
        let lines: Vec<u64> = t.sources[0].report.dropped_examples.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![3, 5, 7, 250, 260], "chunks of {chunk_bytes} bytes");
        assert_eq!(t.len(), 294);
    }
}

#[test]
fn globs_and_folders_expand_in_order() {
    let pattern = shared("cicids2017-improved/Web_Attack*.csv");
    let t = read_flows(&[pattern], &strict()).unwrap();
    assert_eq!(t.len(), 73 + 18 + 13);
    assert_eq!(t.sources.len(), 3);
    let err = read_flows(&[shared("cicids2017-improved/Nothing*.csv")], &strict()).unwrap_err();
    assert!(matches!(err, IngestError::NoMatch { .. }));
}

#[test]
fn convert_writes_a_table_netvigil_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let t = read_file(&shared(TRAFFIC), &strict()).unwrap();
    let csv = dir.path().join("out.csv");
    export::write_table(&t, &csv).unwrap();
    let back = read_file(&csv, &strict()).unwrap();
    assert_eq!(back.len(), t.len());
    assert_eq!(back.features(), t.features());
    assert_eq!(back.labels(), t.labels());
    assert_eq!(back.meta()[5].flow_id(), t.meta()[5].flow_id());
    assert_eq!(back.meta()[5].timestamp_us(), t.meta()[5].timestamp_us());

    let out = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .args(["convert", shared(MLCVE).to_str().unwrap(), "-o"])
        .arg(dir.path().join("out.parquet"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta = std::fs::metadata(dir.path().join("out.parquet")).unwrap();
    assert!(meta.len() > 10_000);
    // No temporary file is left beside the output.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    let _ = N_FEATURES;
}

#[test]
fn cli_errors_are_messages_not_panics() {
    let out = Command::new(env!("CARGO_BIN_EXE_netvigil"))
        .args(["inspect", shared("cicids2017-improved/missing-day.csv").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("missing-day.csv"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn edits_that_break_derived_features_are_reported() {
    use netvigil::features::consistency::{check, new_warnings};
    let t = read_file(&shared(TRAFFIC), &strict()).unwrap();
    let mut row = [0.0f32; N_FEATURES];
    row.copy_from_slice(t.row(10));
    assert!(new_warnings(&row, &row).is_empty(), "an unedited flow warns of nothing new");
    let mut edited = row;
    edited[FeatureId::FlowDuration as usize] *= 10.0;
    let warnings = new_warnings(&row, &edited);
    assert!(warnings.iter().any(|w| w.relation == "Flow Packets/s"), "{warnings:?}");
    edited = row;
    edited[FeatureId::FwdPacketLenMin as usize] = edited[FeatureId::FwdPacketLenMax as usize] + 1.0;
    assert!(check(&edited).iter().any(|w| w.relation == "Fwd Packet Length"));
}

#[test]
fn gzip_compressed_csv_reads_like_the_plain_file_and_a_cut_one_is_an_error() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let plain = crate::common::repo_data("cicids2017-sample.csv");
    let bytes = std::fs::read(&plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap();
    let compressed = gz.finish().unwrap();
    let path = crate::common::write(&dir, "sample.csv.gz", &compressed);
    let opts = netvigil::ingest::ReadOptions::default();
    let a = netvigil::ingest::read_flows(&[plain], &opts).unwrap();
    let b = netvigil::ingest::read_flows(&[path.clone()], &opts).unwrap();
    assert_eq!(a.len(), 798);
    assert_eq!(a.features(), b.features());
    assert_eq!(a.meta(), b.meta());
    assert_eq!(a.labels(), b.labels());
    assert_eq!(b.sources[0].path, path);

    let cut = crate::common::write(&dir, "cut.csv.gz", &compressed[..compressed.len() / 2]);
    let e = netvigil::ingest::read_flows(&[cut], &opts).unwrap_err().to_string();
    assert!(e.contains("cut.csv.gz"), "{e}");
}

#[test]
fn every_kind_of_address_comes_back_as_packed() {
    use netvigil::ingest::address::PackedAddr;
    use std::net::IpAddr;
    let addresses: [Option<IpAddr>; 6] = [
        None,
        Some("0.0.0.0".parse().unwrap()),
        Some("255.255.255.255".parse().unwrap()),
        Some("::ffff:192.168.10.5".parse().unwrap()),
        Some("fe80::1".parse().unwrap()),
        Some("::".parse().unwrap()),
    ];
    for a in addresses {
        assert_eq!(PackedAddr::new(a).get(), a);
    }
    assert_eq!(
        PackedAddr::new(addresses[4]),
        PackedAddr::new(Some("fe80::1".parse().unwrap())),
        "one index per address"
    );
    assert_ne!(
        PackedAddr::new(addresses[3]),
        PackedAddr::new(Some("192.168.10.5".parse().unwrap())),
        "a mapped IPv6 address is not IPv4"
    );
}

#[test]
fn a_labelled_file_without_rows_leaves_the_others_labelled() {
    // A capture whose flows a compat mode left out is written as a header alone; among the
    // files of a training set it made the whole set unlabelled ("the data has no labels").
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = real_lines(IMPROVED_DDOS, 20);
    let full = write(&dir, "ddos.csv", format!("{header}\n{}\n", rows.join("\n")));
    let empty = write(&dir, "no_rows.csv", format!("{header}\n"));
    for inputs in [[&full, &empty], [&empty, &full]] {
        let table = read_flows(&[inputs[0].clone(), inputs[1].clone()], &strict()).unwrap();
        assert_eq!(table.len(), 20);
        let labels = table.labels().expect("the rows keep their labels");
        assert_eq!(labels.iter().count(), 20);
        assert_eq!(table.families().unwrap().iter().filter(|&&f| f == AttackFamily::Ddos).count(), 20);
    }
}
