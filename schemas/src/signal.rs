//! Signals: what a detection rule says about one event.
//!
//! A signal is the unit between detections and correlation. It names the rule that fired,
//! the event that made it fire, and the endpoints the rule saw: for a lateral step, the
//! host or address the actor came from and the one it reached. The correlator chains
//! signals into incidents; the lake keeps every signal in the `signals` table.
//!
//! Design notes (the `signals` table is a durable format):
//! - `signal_id` is derived from the rule id and the event id, so re-running the same rule
//!   over the same event gives the same signal, whichever replay or retry produced it.
//! - `patient_id` is PHI and appears only on signals about EHR access.
//! - Columns are only ever added, never renamed or retyped.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use serde::Serialize;

use crate::{Class, EventId, Severity, Timestamp};

/// What a signal says happened, which decides how the correlator uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A step from one host to another: the edge of a lateral-movement path.
    Lateral,
    /// Unusual access to patient records by a user.
    Ehr,
    /// Something suspicious on one host, evidence but not a step.
    Host,
}

impl SignalKind {
    /// Every kind.
    pub const ALL: [SignalKind; 3] = [SignalKind::Lateral, SignalKind::Ehr, SignalKind::Host];

    /// The name stored in the lake and used in rule metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Lateral => "lateral",
            SignalKind::Ehr => "ehr",
            SignalKind::Host => "host",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        SignalKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// One rule firing on one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    /// Deterministic id: 32 hex digits derived from `rule_id` and `event_id`.
    pub signal_id: String,
    /// The event's time.
    pub time: Timestamp,
    /// The rule that fired.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// How much it matters, from the rule or overridden by it for this event.
    pub severity: Severity,
    /// MITRE ATT&CK technique id, such as `T1021.002`.
    pub technique: String,
    /// How the correlator uses the signal.
    pub kind: SignalKind,
    /// The event the rule fired on.
    pub event_id: EventId,
    /// The event's class.
    pub event_class: Class,
    /// The host that recorded the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Where the actor came from, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_host: Option<String>,
    /// Where the actor came from, by address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    /// What the actor reached, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_host: Option<String>,
    /// What the actor reached, by address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<String>,
    /// The acting account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The patient whose record was touched, for EHR signals. PHI: never logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// A short sentence from the rule about this firing; never holds patient data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The id of the signal `rule_id` raises on `event`.
pub fn signal_id(rule_id: &str, event: EventId) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"ward signal v1\0");
    hasher.update(rule_id.as_bytes());
    hasher.update(b"\0");
    hasher.update(event.as_bytes());
    hex16(hasher.finalize().as_bytes())
}

/// The first 16 bytes of a hash as 32 lowercase hex digits.
pub(crate) fn hex16(hash: &[u8; 32]) -> String {
    hash[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name| Field::new(name, DataType::Utf8, true);
    let required = |name| Field::new(name, DataType::Utf8, false);
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        required("signal_id"),
        Field::new("time", time, false),
        required("rule_id"),
        required("title"),
        required("severity"),
        required("technique"),
        required("kind"),
        required("event_id"),
        required("event_class"),
        text("host"),
        text("src_host"),
        text("src_ip"),
        text("dst_host"),
        text("dst_ip"),
        text("user"),
        text("patient_id"),
        text("summary"),
    ]))
});

/// The Arrow schema of the `signals` table's files (the `date` partition is in the path).
pub fn signal_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// The signals as one record batch in [`signal_schema`] order.
pub fn signal_batch<'a>(
    signals: impl IntoIterator<Item = &'a Signal>,
) -> Result<RecordBatch, ArrowError> {
    const TEXT: usize = 16;
    let mut text: Vec<StringBuilder> = (0..TEXT).map(|_| StringBuilder::new()).collect();
    let mut time = TimestampMicrosecondBuilder::new().with_timezone("UTC");

    for signal in signals {
        time.append_value(signal.time.micros());
        let event_id = signal.event_id.to_string();
        let values: [Option<&str>; TEXT] = [
            Some(&signal.signal_id),
            Some(&signal.rule_id),
            Some(&signal.title),
            Some(signal.severity.as_str()),
            Some(&signal.technique),
            Some(signal.kind.as_str()),
            Some(&event_id),
            Some(signal.event_class.as_str()),
            signal.host.as_deref(),
            signal.src_host.as_deref(),
            signal.src_ip.as_deref(),
            signal.dst_host.as_deref(),
            signal.dst_ip.as_deref(),
            signal.user.as_deref(),
            signal.patient_id.as_deref(),
            signal.summary.as_deref(),
        ];
        for (builder, value) in text.iter_mut().zip(values) {
            builder.append_option(value);
        }
    }

    let mut columns: Vec<ArrayRef> = text
        .iter_mut()
        .map(|builder| Arc::new(builder.finish()) as ArrayRef)
        .collect();
    columns.insert(1, Arc::new(time.finish()));
    RecordBatch::try_new(signal_schema(), columns)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;

    use super::*;

    fn signal(rule: &str) -> Signal {
        let event_id = EventId::of_record(b"{\"EventID\":4624}");
        Signal {
            signal_id: signal_id(rule, event_id),
            time: Timestamp::from_micros(1_600_000_000_000_000),
            rule_id: rule.into(),
            title: "Network logon from another host".into(),
            severity: Severity::Medium,
            technique: "T1021".into(),
            kind: SignalKind::Lateral,
            event_id,
            event_class: Class::Authentication,
            host: Some("ws-02".into()),
            src_host: None,
            src_ip: Some("10.0.0.1".into()),
            dst_host: Some("ws-02".into()),
            dst_ip: None,
            user: Some("alice".into()),
            patient_id: None,
            summary: None,
        }
    }

    #[test]
    fn ids_depend_on_rule_and_event() {
        let event = EventId::of_record(b"a");
        assert_eq!(signal_id("r1", event), signal_id("r1", event));
        assert_ne!(signal_id("r1", event), signal_id("r2", event));
        assert_ne!(
            signal_id("r1", event),
            signal_id("r1", EventId::of_record(b"b"))
        );
        assert_eq!(signal_id("r1", event).len(), 32);
    }

    #[test]
    fn a_batch_has_one_row_per_signal_in_schema_order() {
        let signals = [signal("remote-logon"), signal("admin-share")];
        let batch = signal_batch(&signals).expect("the batch matches the schema");

        assert_eq!(batch.num_rows(), 2);
        let rules = batch
            .column_by_name("rule_id")
            .expect("rule_id")
            .as_string::<i32>();
        assert_eq!(rules.value(1), "admin-share");
        let src = batch
            .column_by_name("src_ip")
            .expect("src_ip")
            .as_string::<i32>();
        assert_eq!(src.value(0), "10.0.0.1");
        let dst_ip = batch.column_by_name("dst_ip").expect("dst_ip");
        assert_eq!(dst_ip.null_count(), 2);
    }
}
