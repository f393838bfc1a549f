//! Attack labels: the raw spelling of a dataset and the normalised attack family.

use serde::{Deserialize, Serialize};

/// The attack family a label belongs to: what the model predicts and the analyst filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttackFamily {
    Benign,
    Dos,
    Ddos,
    Portscan,
    Bruteforce,
    Webattack,
    Botnet,
    Infiltration,
    Heartbleed,
    /// An attack whose family the data does not say: binarised labels (`1`, `attack`) of
    /// derived copies of the dataset. Never predicted (it is not one of [`Self::CLASSES`]);
    /// counts as an attack in every attack-vs-benign metric.
    #[serde(rename = "attack")]
    UnknownAttack,
}

impl AttackFamily {
    /// Every family a label can have: the model's classes, then [`Self::UnknownAttack`].
    pub const ALL: [AttackFamily; 10] = {
        let mut all = [AttackFamily::UnknownAttack; 10];
        let mut i = 0;
        while i < Self::CLASSES.len() {
            all[i] = Self::CLASSES[i];
            i += 1;
        }
        all
    };
    pub const COUNT: usize = Self::ALL.len();
    /// The families the model predicts: its output classes, in output order.
    pub const CLASSES: [AttackFamily; 9] = [
        AttackFamily::Benign,
        AttackFamily::Dos,
        AttackFamily::Ddos,
        AttackFamily::Portscan,
        AttackFamily::Bruteforce,
        AttackFamily::Webattack,
        AttackFamily::Botnet,
        AttackFamily::Infiltration,
        AttackFamily::Heartbleed,
    ];
    pub const N_CLASSES: usize = Self::CLASSES.len();

    pub fn name(self) -> &'static str {
        match self {
            AttackFamily::Benign => "benign",
            AttackFamily::Dos => "dos",
            AttackFamily::Ddos => "ddos",
            AttackFamily::Portscan => "portscan",
            AttackFamily::Bruteforce => "bruteforce",
            AttackFamily::Webattack => "webattack",
            AttackFamily::Botnet => "botnet",
            AttackFamily::Infiltration => "infiltration",
            AttackFamily::Heartbleed => "heartbleed",
            AttackFamily::UnknownAttack => "attack",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The family of model output class `i`.
    pub fn from_index(i: usize) -> Option<AttackFamily> {
        Self::CLASSES.get(i).copied()
    }

    /// Whether the model can predict this family (every family but [`Self::UnknownAttack`]).
    pub fn is_class(self) -> bool {
        self != AttackFamily::UnknownAttack
    }

    pub fn from_name(name: &str) -> Option<AttackFamily> {
        Self::ALL.iter().copied().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    pub fn is_attack(self) -> bool {
        self != AttackFamily::Benign
    }

    /// Maps every label spelling of the 2017 release and of the corrected 2021 release, and the
    /// spellings of derived copies: grouped names (`DoS`, `BruteForce`, `WebAttack`, `Bot`,
    /// `PortScan`, `Infiltration`) and binarised labels (`0`/`1`, `normal`/`attack`); and
    /// those of the other CICFlowMeter datasets analysts bring, CSE-CIC-IDS2018 and
    /// CIC-DDoS2019.
    ///
    /// Matching ignores case and every character that is not an ASCII letter or digit, so
    /// `Web Attack – XSS` (a Windows-1252 dash, read as U+FFFD or U+2013), `Web Attack - XSS`
    /// and `Web Attack \x96 XSS` all meet. Returns `None` for "no label" markers and for
    /// labels of no known family.
    pub fn from_label(raw: &str) -> Option<AttackFamily> {
        let key: String = raw.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
        // The corrected release marks attack flows that did not take effect as "<label> -
        // Attempted". They are still attack traffic an analyst wants flagged, so they keep
        // the family of their attack.
        let key = key.strip_suffix("attempted").unwrap_or(&key);
        let family = match key {
            "benign" | "normal" | "0" => AttackFamily::Benign,
            // Binarised copies say "attack" and nothing more: the family stays unknown rather
            // than guessed.
            "1" | "attack" | "malicious" | "anomaly" => AttackFamily::UnknownAttack,
            "portscan" => AttackFamily::Portscan,
            // CSE-CIC-IDS2018 names the web attacks "Brute Force -Web", "Brute Force -XSS"
            // and "SQL Injection": matched before the brute force of services.
            "bruteforceweb" | "bruteforcexss" | "sqlinjection" => AttackFamily::Webattack,
            "ftppatator" | "sshpatator" | "bruteforce" | "ftpbruteforce" | "sshbruteforce" => AttackFamily::Bruteforce,
            // "DDoS", "DDoS LOIT" (2017), "DDoS attacks-LOIC-HTTP", "DDOS attack-HOIC",
            // "DDOS attack-LOIC-UDP" (2018).
            k if k.starts_with("ddos") => AttackFamily::Ddos,
            // CIC-DDoS2019, every attack of which is a distributed flood: "DrDoS_<protocol>" on
            // its first day, and on both days these names alone (exactly its set, so that an
            // application label of another dataset, "DNS" say, is still refused as unknown).
            k if k.starts_with("drdos") => AttackFamily::Ddos,
            "syn" | "udp" | "udplag" | "tftp" | "webddos" | "portmap" | "ldap" | "mssql" | "netbios" => {
                AttackFamily::Ddos
            }
            "bot" | "botnet" | "botnetares" => AttackFamily::Botnet,
            // "Infiltration - Portscan" is the scan run from the infiltrated host: it belongs
            // to the infiltration campaign, not to the external portscan of Wednesday/Friday.
            "infiltration" | "infilteration" | "infiltrationportscan" => AttackFamily::Infiltration,
            "heartbleed" => AttackFamily::Heartbleed,
            k if k.starts_with("dos") => AttackFamily::Dos,
            k if k.starts_with("webattack") => AttackFamily::Webattack,
            _ => return None,
        };
        Some(family)
    }
}

impl std::fmt::Display for AttackFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The label of one flow: the dataset's own spelling and its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLabel {
    /// Raw label as read (invalid UTF-8 such as the Windows-1252 dash becomes U+FFFD).
    pub raw: std::sync::Arc<str>,
    pub family: AttackFamily,
}

/// True for the values CICFlowMeter writes when it was given no label: `No Label` (V4),
/// `CIC` (the V3 header's default) and `NeedManualLabel` (later releases).
pub fn is_no_label(raw: &str) -> bool {
    let t = raw.trim();
    t.is_empty() || ["no label", "nolabel", "cic", "needmanuallabel"].iter().any(|m| t.eq_ignore_ascii_case(m))
}

/// One label per flow, each distinct label kept once: a `FlowLabel` per flow is 24 bytes, 240
/// MB of ten million flows, of which a file holds a handful of distinct values.
#[derive(Debug, Clone, Default)]
pub struct LabelColumn {
    distinct: Vec<FlowLabel>,
    /// Per flow, an index into `distinct`.
    ids: Vec<u32>,
    index: std::collections::HashMap<(std::sync::Arc<str>, AttackFamily), u32>,
}

impl LabelColumn {
    pub fn push(&mut self, label: FlowLabel) {
        let id = match self.ids.last() {
            // Rows of one label come in runs.
            Some(&last) if self.distinct[last as usize] == label => last,
            _ => {
                let next = self.distinct.len() as u32;
                *self.index.entry((label.raw.clone(), label.family)).or_insert_with(|| {
                    self.distinct.push(label);
                    next
                })
            }
        };
        self.ids.push(id);
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn get(&self, row: usize) -> Option<&FlowLabel> {
        self.ids.get(row).map(|&id| &self.distinct[id as usize])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &FlowLabel> + '_ {
        self.ids.iter().map(|&id| &self.distinct[id as usize])
    }

    /// The labels of `rows`, in that order.
    pub fn select(&self, rows: impl Iterator<Item = usize>) -> LabelColumn {
        rows.map(|r| self[r].clone()).collect()
    }

    pub fn extend(&mut self, other: LabelColumn) {
        for label in other.iter() {
            self.push(label.clone());
        }
    }
}

impl std::ops::Index<usize> for LabelColumn {
    type Output = FlowLabel;

    fn index(&self, row: usize) -> &FlowLabel {
        &self.distinct[self.ids[row] as usize]
    }
}

impl PartialEq for LabelColumn {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl FromIterator<FlowLabel> for LabelColumn {
    fn from_iter<I: IntoIterator<Item = FlowLabel>>(iter: I) -> Self {
        let mut column = LabelColumn::default();
        iter.into_iter().for_each(|l| column.push(l));
        column
    }
}

impl From<Vec<FlowLabel>> for LabelColumn {
    fn from(labels: Vec<FlowLabel>) -> Self {
        labels.into_iter().collect()
    }
}
