//! The `events` table: its Arrow schema, a description of every column, and the builder
//! that turns [`Event`]s into Arrow record batches.
//!
//! Design notes:
//! - Columns are flat and snake_case so analysts write SQL without nested access.
//! - Timestamps are `Timestamp(Microsecond, "UTC")`; ports and logon types are `Int32` so
//!   SQL comparisons with plain integers need no casts.
//! - Only `event_id`, `time`, `source_kind`, `source_format`, `class`, `activity`,
//!   `provenance` and `raw` are non-null; every other column is null when the source did
//!   not report it.
//! - Columns are only ever added, never renamed or retyped: saved queries keep working.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::Event;

/// The kinds of value a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text.
    Text,
    /// UTC timestamp in microseconds.
    Time,
    /// 32-bit signed integer.
    Int,
    /// True or false.
    Bool,
}

/// One column of the `events` table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The SQL name.
    pub name: &'static str,
    /// What it holds.
    pub ty: ColumnType,
    /// Whether it may be null.
    pub nullable: bool,
    /// What it means, for people writing SQL.
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool, doc: &'static str) -> Column {
    Column {
        name,
        ty,
        nullable,
        doc,
    }
}

use ColumnType::{Bool, Int, Text, Time};

/// Every column of the `events` table, in schema order.
pub const COLUMNS: &[Column] = &[
    col(
        "event_id",
        Text,
        false,
        "32 hex digits derived from the record's bytes alone",
    ),
    col(
        "time",
        Time,
        false,
        "when it happened, by the sensor's own clock, UTC",
    ),
    col(
        "observed_time",
        Time,
        true,
        "when a collector saw it, if the record says",
    ),
    col("source_kind", Text, false, "edr, ndr or ehr"),
    col(
        "source_format",
        Text,
        false,
        "wire format the record was read in",
    ),
    col(
        "class",
        Text,
        false,
        "OCSF-aligned class, such as authentication or smb_activity",
    ),
    col(
        "activity",
        Text,
        false,
        "what happened within the class, such as logon or read",
    ),
    col(
        "event_code",
        Text,
        true,
        "the source's code: Windows event id, Zeek log, DICOM code",
    ),
    col(
        "host",
        Text,
        true,
        "host that recorded the event, lowercase short name",
    ),
    col("host_domain", Text, true, "DNS domain of host, lowercase"),
    col(
        "src_host",
        Text,
        true,
        "initiating host: logon workstation, connection client",
    ),
    col("src_ip", Text, true, "initiating IP address"),
    col("src_port", Int, true, "initiating port"),
    col("dst_host", Text, true, "target host"),
    col("dst_ip", Text, true, "target IP address"),
    col("dst_port", Int, true, "target port"),
    col(
        "protocol",
        Text,
        true,
        "transport or application protocol, lowercase",
    ),
    col("user", Text, true, "acting account, lowercase short name"),
    col("user_domain", Text, true, "domain of user, lowercase"),
    col(
        "logon_type",
        Int,
        true,
        "Windows logon type: 2 interactive, 3 network, 10 remote",
    ),
    col("logon_id", Text, true, "Windows logon session id as logged"),
    col(
        "process_name",
        Text,
        true,
        "acting process executable name, lowercase",
    ),
    col("process_path", Text, true, "acting process full path"),
    col("command_line", Text, true, "acting process command line"),
    col(
        "parent_process_name",
        Text,
        true,
        "parent process executable name, lowercase",
    ),
    col("service_name", Text, true, "service or scheduled task name"),
    col(
        "share_name",
        Text,
        true,
        "SMB share, upper case, without host: ADMIN$, C$, IPC$",
    ),
    col(
        "share_target",
        Text,
        true,
        "file or named pipe opened on the share",
    ),
    col("file_path", Text, true, "file or registry path"),
    col(
        "patient_id",
        Text,
        true,
        "patient whose record was touched (PHI)",
    ),
    col(
        "ehr_action",
        Text,
        true,
        "create, read, update, delete or execute",
    ),
    col(
        "ehr_resource",
        Text,
        true,
        "what part of the record: FHIR type, DICOM object",
    ),
    col(
        "purpose_of_use",
        Text,
        true,
        "HL7 v3 ActReason code the user gave, such as TREAT",
    ),
    col(
        "break_glass",
        Bool,
        true,
        "emergency override of normal access control",
    ),
    col("outcome", Text, true, "success or failure"),
    col(
        "severity",
        Text,
        true,
        "informational, low, medium, high or critical",
    ),
    col("signature", Text, true, "the sensor's own detection name"),
    col(
        "provenance",
        Text,
        false,
        "file:LINE or topic/partition/offset of the record",
    ),
    col("raw", Text, false, "the original record"),
];

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|column| {
            let ty = match column.ty {
                Text => DataType::Utf8,
                Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                Int => DataType::Int32,
                Bool => DataType::Boolean,
            };
            Field::new(column.name, ty, column.nullable)
        })
        .collect();
    Arc::new(Schema::new(fields))
});

/// The Arrow schema of the `events` table.
pub fn event_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// Accumulates events column by column and emits Arrow record batches.
#[derive(Debug)]
pub struct EventBatchBuilder {
    text: Vec<StringBuilder>,
    time: TimestampMicrosecondBuilder,
    observed_time: TimestampMicrosecondBuilder,
    ports_and_types: [Int32Builder; 3],
    break_glass: BooleanBuilder,
    rows: usize,
}

impl Default for EventBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Number of text columns, in the order [`text_values`] yields them.
const TEXT_COLUMNS: usize = 33;

/// The text columns of one event, in schema order.
fn text_values(event: &Event) -> [Option<&str>; TEXT_COLUMNS] {
    [
        None, // event_id is formatted separately; see `append`.
        Some(event.source_kind.as_str()),
        Some(event.source_format),
        Some(event.class.as_str()),
        Some(event.activity.as_str()),
        event.event_code.as_deref(),
        event.host.as_deref(),
        event.host_domain.as_deref(),
        event.src_host.as_deref(),
        event.src_ip.as_deref(),
        event.dst_host.as_deref(),
        event.dst_ip.as_deref(),
        event.protocol.as_deref(),
        event.user.as_deref(),
        event.user_domain.as_deref(),
        event.logon_id.as_deref(),
        event.process_name.as_deref(),
        event.process_path.as_deref(),
        event.command_line.as_deref(),
        event.parent_process_name.as_deref(),
        event.service_name.as_deref(),
        event.share_name.as_deref(),
        event.share_target.as_deref(),
        event.file_path.as_deref(),
        event.patient_id.as_deref(),
        event.ehr_action.as_deref(),
        event.ehr_resource.as_deref(),
        event.purpose_of_use.as_deref(),
        event.outcome.map(|o| o.as_str()),
        event.severity.map(|s| s.as_str()),
        event.signature.as_deref(),
        Some(event.provenance.as_str()),
        Some(event.raw.as_str()),
    ]
}

impl EventBatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        EventBatchBuilder {
            text: (0..TEXT_COLUMNS).map(|_| StringBuilder::new()).collect(),
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            observed_time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            ports_and_types: [
                Int32Builder::new(),
                Int32Builder::new(),
                Int32Builder::new(),
            ],
            break_glass: BooleanBuilder::new(),
            rows: 0,
        }
    }

    /// Rows appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one event as one row.
    pub fn append(&mut self, event: &Event) {
        let values = text_values(event);
        self.text[0].append_value(event.event_id.to_string());
        for (builder, value) in self.text.iter_mut().zip(values).skip(1) {
            builder.append_option(value);
        }
        self.time.append_value(event.time.micros());
        self.observed_time
            .append_option(event.observed_time.map(|t| t.micros()));
        self.ports_and_types[0].append_option(event.src_port.map(i32::from));
        self.ports_and_types[1].append_option(event.dst_port.map(i32::from));
        self.ports_and_types[2].append_option(event.logon_type);
        self.break_glass.append_option(event.break_glass);
        self.rows += 1;
    }

    /// Emits the pending rows as one batch in [`event_schema`] order and resets.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut text: Vec<ArrayRef> = self
            .text
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let mut take =
            |i: usize| std::mem::replace(&mut text[i], Arc::new(StringBuilder::new().finish()));
        let int = |b: &mut Int32Builder| Arc::new(b.finish()) as ArrayRef;

        let [src_port, dst_port, logon_type] = &mut self.ports_and_types;
        let columns: Vec<ArrayRef> = vec![
            take(0),
            Arc::new(self.time.finish()),
            Arc::new(self.observed_time.finish()),
            take(1),
            take(2),
            take(3),
            take(4),
            take(5),
            take(6),
            take(7),
            take(8),
            take(9),
            int(src_port),
            take(10),
            take(11),
            int(dst_port),
            take(12),
            take(13),
            take(14),
            int(logon_type),
            take(15),
            take(16),
            take(17),
            take(18),
            take(19),
            take(20),
            take(21),
            take(22),
            take(23),
            take(24),
            take(25),
            take(26),
            take(27),
            Arc::new(self.break_glass.finish()),
            take(28),
            take(29),
            take(30),
            take(31),
            take(32),
        ];
        self.rows = 0;
        RecordBatch::try_new(event_schema(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;
    use crate::{Class, Outcome, SourceKind, Timestamp};

    fn logon() -> Event {
        let origin = Origin {
            raw: "{\"EventID\":4624}",
            provenance: "fixture.json:1",
            kind: SourceKind::Edr,
            format: "windows-json",
        };
        let mut event = Event::new(
            origin,
            Timestamp::from_micros(1_600_618_616_010_000),
            Class::Authentication,
            "logon",
        );
        event.set_host("WORKSTATION6.theshire.local");
        event.set_user("pgustavo", Some("THESHIRE"));
        event.logon_type = Some(3);
        event.src_ip = Some("172.18.39.5".into());
        event.src_port = Some(56608);
        event.outcome = Some(Outcome::Success);
        event
    }

    #[test]
    fn columns_match_the_struct_fields() {
        let json = serde_json::to_value(logon()).expect("an event serializes");
        let object = json.as_object().expect("an event is a JSON object");
        for key in object.keys() {
            assert!(
                COLUMNS.iter().any(|c| c.name == key),
                "{key} is not a column"
            );
        }
        assert_eq!(COLUMNS.len(), 39);
        let text = COLUMNS.iter().filter(|c| c.ty == Text).count();
        assert_eq!(text, TEXT_COLUMNS);
    }

    #[test]
    fn a_batch_holds_each_value_in_its_named_column() {
        let mut builder = EventBatchBuilder::new();
        builder.append(&logon());
        builder.append(&logon());
        let batch = builder.finish().expect("the batch matches the schema");
        assert_eq!(batch.num_rows(), 2);
        assert!(builder.is_empty());

        let text = |name: &str| {
            let array = batch.column_by_name(name).expect("column exists");
            arrow::array::as_string_array(array).value(0).to_owned()
        };
        assert_eq!(text("host"), "workstation6");
        assert_eq!(text("host_domain"), "theshire.local");
        assert_eq!(text("user"), "pgustavo");
        assert_eq!(text("user_domain"), "theshire");
        assert_eq!(text("src_ip"), "172.18.39.5");
        assert_eq!(text("outcome"), "success");
        assert_eq!(text("class"), "authentication");
        assert_eq!(text("provenance"), "fixture.json:1");
        let ports = batch.column_by_name("src_port").expect("column exists");
        let ports = arrow::array::as_primitive_array::<arrow::datatypes::Int32Type>(ports);
        assert_eq!(ports.value(0), 56608);
        assert!(
            batch
                .column_by_name("patient_id")
                .expect("column exists")
                .is_null(0)
        );
    }
}
