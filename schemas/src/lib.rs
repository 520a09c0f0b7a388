//! The one event schema every ward stage speaks.
//!
//! Sensors emit Windows event logs, Zeek and Suricata records and EHR audit messages in a
//! dozen shapes; `ingest` turns each of them into an [`Event`], and everything after it
//! (detections, correlation, the Parquet lake, SQL) reads only this type or its Arrow form.
//! This crate is the leaf of the crate graph: types, names and the Arrow schema, no I/O.
//!
//! Guarantees:
//! - Column names are the lake's SQL interface and never change meaning; see [`columns`].
//! - [`EventId`] is derived from the record's bytes alone, so the same record always gets
//!   the same id, whichever file, topic or retry it arrives through.
//! - Host and user names are stored normalized (lowercase short name, domain apart); see
//!   [`names`].
//!
//! Modules:
//! - [`event`]: the [`Event`] struct, one normalized record.
//! - [`kinds`]: the closed vocabularies: source kind, event class, outcome, severity.
//! - [`id`]: deterministic event ids.
//! - [`time`]: the UTC microsecond [`Timestamp`].
//! - [`names`]: host and user name normalization.
//! - [`columns`]: the Arrow schema and the builder from events to record batches.
//! - [`signal`]: [`Signal`], what a detection rule says about one event, and its table.
//! - [`incident`]: [`Incident`], a lateral-movement chain with its evidence, and its table.
//! - [`access`]: [`Access`], one use of the lake by a person or program, and its table.

pub mod access;
pub mod columns;
pub mod event;
pub mod id;
pub mod incident;
pub mod kinds;
pub mod names;
pub mod signal;
pub mod time;

pub use access::{Access, access_batch, access_schema};
pub use columns::{EventBatchBuilder, event_schema};
pub use event::Event;
pub use id::EventId;
pub use incident::{Hop, Incident, Triage, incident_batch, incident_schema};
pub use kinds::{Class, Outcome, Severity, SourceKind};
pub use signal::{Signal, SignalKind, signal_batch, signal_schema};
pub use time::Timestamp;
