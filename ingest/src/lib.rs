//! Ingest: from the bytes a sensor wrote to normalized [`Event`]s.
//!
//! What comes in is a record: one line of a Windows event export, one Zeek or Suricata
//! log entry, one FHIR AuditEvent or DICOM audit message, one row of an EHR access log,
//! from a file or a Kafka message. What goes out is zero or more [`Event`]s in ward's one
//! schema, or a [`DeadLetter`] carrying the reason, the provenance and the raw bytes.
//!
//! Guarantees:
//! - No input makes a normalizer panic; every record ends as events or as a dead letter,
//!   none is dropped silently.
//! - Error messages and dead-letter reasons never quote record content, which may be PHI;
//!   the raw bytes travel beside the reason, not inside it.
//! - The format is detected per record unless the caller fixes it ([`FormatChoice`]).
//!
//! Modules:
//! - [`format`](mod@format): the formats ward reads, by name, and per-record detection.
//! - [`record`]: a record and the context its container gives it (headers, log names).
//! - [`normalize`]: one normalizer per format, and the dispatch between them.
//! - [`read`]: files and folders to records: JSON lines, arrays and streams, Zeek TSV,
//!   CSV, XML, gzip.
//! - [`kafka`]: a consumer-group member that resumes where the lake ends, and the
//!   dead-letter topic.
//! - [`dead_letter`]: what is kept of a record that could not be normalized.
//! - [`error`]: why a record could not be normalized.
//! - `json`: a borrowed JSON tree tolerant of the type drift real sensors show.
//! - `timefmt`: the timestamp shapes sensors write.
//!
//! [`Event`]: ward_schemas::Event

pub mod dead_letter;
pub mod error;
pub mod format;
mod json;
pub mod kafka;
pub mod normalize;
pub mod read;
pub mod record;
mod timefmt;

pub use dead_letter::DeadLetter;
pub use error::NormalizeError;
pub use format::{Format, FormatChoice};
pub use normalize::Normalizer;
pub use record::{Hint, Record};
