//! [`Access`]: one use of the lake by a person or a program, and its `access_log` table.
//!
//! HIPAA's audit controls apply to the audit system too: every query and report records
//! who ran it, when, what it asked and how many rows came back. The row holds the SQL text
//! or the report's arguments as given, which may name a patient; it lives in the lake
//! beside the records it protects and, like them, never goes to logs.

use std::sync::{Arc, LazyLock};

use arrow::array::UInt64Builder;
use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::Timestamp;

/// One use of the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// When it started.
    pub time: Timestamp,
    /// Who: the operating-system account for the command line, the token's name for the
    /// HTTP API.
    pub actor: String,
    /// Through what: `cli` or `http`.
    pub channel: String,
    /// What kind of use: `query`, `report`, `verify`, `retention`.
    pub action: String,
    /// What exactly: the SQL text, or the report's name and arguments.
    pub detail: String,
    /// Rows returned (for a report, rows of its main table).
    pub rows: u64,
    /// `ok`, or `error` when the use failed.
    pub outcome: String,
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("time", time, false),
        Field::new("actor", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("outcome", DataType::Utf8, false),
    ]))
});

/// The Arrow schema of the `access_log` table's files (the `date` partition, of `time`,
/// is in the path).
pub fn access_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// The accesses as one record batch in [`access_schema`] order.
pub fn access_batch<'a>(
    accesses: impl IntoIterator<Item = &'a Access>,
) -> Result<RecordBatch, ArrowError> {
    let mut time = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut texts: [StringBuilder; 5] = std::array::from_fn(|_| StringBuilder::new());
    let mut rows = UInt64Builder::new();
    for access in accesses {
        time.append_value(access.time.micros());
        let values = [
            &access.actor,
            &access.channel,
            &access.action,
            &access.detail,
            &access.outcome,
        ];
        for (builder, value) in texts.iter_mut().zip(values) {
            builder.append_value(value);
        }
        rows.append_value(access.rows);
    }
    let [actor, channel, action, detail, outcome] = texts.map(|mut builder| builder.finish());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        Arc::new(actor),
        Arc::new(channel),
        Arc::new(action),
        Arc::new(detail),
        Arc::new(rows.finish()),
        Arc::new(outcome),
    ];
    RecordBatch::try_new(access_schema(), columns)
}
