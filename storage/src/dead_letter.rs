//! The `dead_letters` table: records that could not be normalized, kept byte for byte.
//!
//! Design notes:
//! - `raw` is binary, not text, because what a sensor sends is not always UTF-8, and the
//!   audit record must keep it exactly.
//! - `reason` never quotes the record (ingest guarantees it); `raw` is the only column
//!   that may hold patient data besides whatever `provenance` names.
//! - Columns are only ever added, never renamed or retyped.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use ward_schemas::Timestamp;

/// One row of the `dead_letters` table.
///
/// The binary builds it from ingest's dead letter; storage does not depend on ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRow {
    /// Why the record was refused, such as `record matches no supported format`.
    pub reason: String,
    /// The format it was read as, if one was detected or chosen.
    pub format: Option<String>,
    /// The Kafka topic it came from; `None` for files.
    pub topic: Option<String>,
    /// The Kafka partition it came from.
    pub partition: Option<i32>,
    /// Its Kafka offset.
    pub offset: Option<i64>,
    /// `file:LINE` or `topic/partition/offset`.
    pub provenance: String,
    /// When ward received it (the Kafka message timestamp or the read time), if known.
    /// It picks the row's `date` partition; without it the commit's date is used.
    pub received_time: Option<Timestamp>,
    /// The record's bytes, unchanged.
    pub raw: Vec<u8>,
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("reason", DataType::Utf8, false),
        Field::new("format", DataType::Utf8, true),
        Field::new("topic", DataType::Utf8, true),
        Field::new("partition", DataType::Int32, true),
        Field::new("offset", DataType::Int64, true),
        Field::new("provenance", DataType::Utf8, false),
        Field::new("received_time", time, true),
        Field::new("raw", DataType::Binary, false),
    ]))
});

/// The Arrow schema of the `dead_letters` table's files (the `date` partition column is
/// in the path, not the file).
pub fn dead_letter_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// The rows as one record batch in [`dead_letter_schema`] order.
pub(crate) fn dead_letter_batch<'a>(
    rows: impl ExactSizeIterator<Item = &'a DeadLetterRow>,
) -> Result<RecordBatch, ArrowError> {
    let len = rows.len();
    let mut reason = StringBuilder::new();
    let mut format = StringBuilder::new();
    let mut topic = StringBuilder::new();
    let mut partition = Int32Builder::with_capacity(len);
    let mut offset = Int64Builder::with_capacity(len);
    let mut provenance = StringBuilder::new();
    let mut received_time = TimestampMicrosecondBuilder::with_capacity(len).with_timezone("UTC");
    let mut raw = BinaryBuilder::new();

    for row in rows {
        reason.append_value(&row.reason);
        format.append_option(row.format.as_deref());
        topic.append_option(row.topic.as_deref());
        partition.append_option(row.partition);
        offset.append_option(row.offset);
        provenance.append_value(&row.provenance);
        received_time.append_option(row.received_time.map(Timestamp::micros));
        raw.append_value(&row.raw);
    }

    let columns: Vec<ArrayRef> = vec![
        Arc::new(reason.finish()),
        Arc::new(format.finish()),
        Arc::new(topic.finish()),
        Arc::new(partition.finish()),
        Arc::new(offset.finish()),
        Arc::new(provenance.finish()),
        Arc::new(received_time.finish()),
        Arc::new(raw.finish()),
    ];
    RecordBatch::try_new(dead_letter_schema(), columns)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    use super::*;

    #[test]
    fn a_batch_keeps_binary_raw_and_nulls() {
        let rows = [
            DeadLetterRow {
                reason: "record matches no supported format".into(),
                format: None,
                topic: Some("edr".into()),
                partition: Some(3),
                offset: Some(77),
                provenance: "edr/3/77".into(),
                received_time: Some(Timestamp::from_micros(1_600_000_000_000_000)),
                raw: vec![0xff, 0x00, 0xfe],
            },
            DeadLetterRow {
                reason: "truncated".into(),
                format: Some("zeek-json".into()),
                topic: None,
                partition: None,
                offset: None,
                provenance: "conn.log:4".into(),
                received_time: None,
                raw: b"{".to_vec(),
            },
        ];
        let batch = dead_letter_batch(rows.iter()).expect("the batch matches the schema");

        assert_eq!(batch.num_rows(), 2);
        let raw = batch
            .column_by_name("raw")
            .expect("raw column")
            .as_binary::<i32>();
        assert_eq!(raw.value(0), [0xff, 0x00, 0xfe]);
        let offsets = batch.column_by_name("offset").expect("offset column");
        assert_eq!(offsets.as_primitive::<Int64Type>().value(0), 77);
        assert!(offsets.is_null(1));
        assert!(
            batch
                .column_by_name("format")
                .expect("format column")
                .is_null(0)
        );
    }
}
