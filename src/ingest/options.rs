//! How input files are read (its own file so the fuzz crate can compile the CSV reader alone).

use super::capture;

/// How to read input files.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Drop (and count) rows with text in a numeric column or an unknown label instead of
    /// failing on the first one.
    pub lenient: bool,
    /// Bytes of CSV parsed at a time; bounds memory beyond the output table.
    pub chunk_bytes: usize,
    /// How captures (pcap/pcapng) are turned into flows.
    pub capture: capture::ExtractOptions,
    /// Keep each flow's IP addresses. `serve` reads without them: it answers verdicts only,
    /// and every distinct IPv6 address read stays for the process's life in one table
    /// (`ingest::address`), which a server scoring a network's flows for weeks would grow
    /// without end.
    pub addresses: bool,
    /// Read the Label column as no labels at all: a file whose labels are no attack labels
    /// (CIC-Darknet2020's `Tor`/`VPN` classes, say) can then be scored.
    pub ignore_labels: bool,
    /// Labels where NetVigil knows them: a file with a label of no known family is read again
    /// without labels, saying so in its report (`ValidationReport::labels_not_read`), instead
    /// of failing. For scoring only (the window); training and evaluation need every label.
    pub labels_if_known: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            lenient: false,
            chunk_bytes: 16 << 20,
            capture: capture::ExtractOptions::default(),
            addresses: true,
            ignore_labels: false,
            labels_if_known: false,
        }
    }
}
