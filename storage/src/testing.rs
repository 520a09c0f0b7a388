//! Records for tests.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use ward_schemas::event::Origin;
use ward_schemas::{Class, Event, SourceKind, Timestamp};

use crate::{DeadLetterRow, SourceOffset};

/// A time from RFC 3339 text.
pub fn time(rfc3339: &str) -> Timestamp {
    let time = DateTime::parse_from_rfc3339(rfc3339).expect("test times are RFC 3339");
    Timestamp::from_datetime(&time)
}

/// A date from `YYYY-MM-DD`.
pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test dates are YYYY-MM-DD")
}

/// An event of `kind` at `at`, whose id derives from `raw`.
pub fn event(kind: SourceKind, at: &str, raw: &str) -> Event {
    let origin = Origin {
        raw,
        provenance: "test:1",
        kind,
        format: "windows-json",
    };
    Event::new(origin, time(at), Class::Authentication, "logon")
}

/// A Kafka source offset.
pub fn at(topic: &str, partition: i32, offset: i64) -> Option<SourceOffset> {
    Some(SourceOffset {
        topic: Arc::from(topic),
        partition,
        offset,
    })
}

/// A dead letter holding `raw`, received at `received` if given.
pub fn dead_letter(raw: &str, received: Option<&str>) -> DeadLetterRow {
    DeadLetterRow {
        reason: "record matches no supported format".into(),
        format: None,
        topic: None,
        partition: None,
        offset: None,
        provenance: "test:2".into(),
        received_time: received.map(time),
        raw: raw.as_bytes().to_vec(),
    }
}

/// A signal of rule `rule` on the event whose raw record is `raw`, at an RFC 3339 time.
pub fn signal(raw: &str, at: &str) -> ward_schemas::Signal {
    let event_id = ward_schemas::EventId::of_record(raw.as_bytes());
    ward_schemas::Signal {
        signal_id: ward_schemas::signal::signal_id("test-rule", event_id),
        time: time(at),
        rule_id: "test-rule".into(),
        title: "Test rule".into(),
        severity: ward_schemas::Severity::Low,
        technique: "T0000".into(),
        kind: ward_schemas::SignalKind::Host,
        event_id,
        event_class: ward_schemas::Class::BaseEvent,
        host: None,
        src_host: None,
        src_ip: None,
        dst_host: None,
        dst_ip: None,
        user: None,
        patient_id: None,
        summary: None,
    }
}
