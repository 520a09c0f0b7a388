//! A record: the unit a sensor writes and a normalizer reads.
//!
//! A record is one JSON object, one TSV or CSV row, or one XML message, with where it came
//! from. Some formats are not self-describing line by line (a Zeek TSV row needs its
//! `#fields` header, a CSV row its header row, a Zeek JSON line without `_path` the log
//! name from its file name); the container reader passes that context along as a [`Hint`].

use std::sync::Arc;

use ward_schemas::Timestamp;

/// One record to normalize.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The record's bytes, without its line terminator.
    pub bytes: &'a [u8],
    /// `file:LINE` or `topic/partition/offset`.
    pub provenance: &'a str,
    /// Context from the container.
    pub hint: &'a Hint,
    /// When the transport received it (a Kafka message timestamp), used as
    /// `observed_time` when the record itself does not say.
    pub received: Option<Timestamp>,
}

impl<'a> Record<'a> {
    /// A record with no container context, as a Kafka message arrives.
    pub fn new(bytes: &'a [u8], provenance: &'a str) -> Self {
        Record {
            bytes,
            provenance,
            hint: &Hint::None,
            received: None,
        }
    }
}

/// Context a container gives its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Hint {
    /// None: the record must describe itself.
    #[default]
    None,
    /// The Zeek log this JSON record belongs to (`conn`, `dce_rpc`), from its file name.
    ZeekPath(Arc<str>),
    /// The header of the Zeek TSV file this row belongs to.
    ZeekTsv(Arc<ZeekTsvHeader>),
    /// The header row of the CSV file this row belongs to.
    Csv(Arc<[String]>),
}

/// The `#` header lines of a Zeek TSV log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeekTsvHeader {
    /// The log name from `#path`, such as `conn`.
    pub path: Option<String>,
    /// Column names from `#fields`.
    pub fields: Vec<String>,
    /// Field separator from `#separator` (a tab unless the file says otherwise).
    pub separator: String,
    /// Separator inside set and vector values from `#set_separator`.
    pub set_separator: String,
    /// The marker for an empty set or string from `#empty_field`.
    pub empty_field: String,
    /// The marker for an unset value from `#unset_field`.
    pub unset_field: String,
}

impl Default for ZeekTsvHeader {
    fn default() -> Self {
        ZeekTsvHeader {
            path: None,
            fields: Vec::new(),
            separator: "\t".into(),
            set_separator: ",".into(),
            empty_field: "(empty)".into(),
            unset_field: "-".into(),
        }
    }
}
