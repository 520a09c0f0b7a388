//! Incidents: lateral movement that reached patient data, with its proof.
//!
//! An incident is what the correlator hands the analyst: the hosts the attacker crossed,
//! in order, the evidence events of every step, the accounts and techniques used, and how
//! many patients' records the involved users or hosts touched afterwards, which decides
//! the breach notification duty.
//!
//! Design notes (the `incidents` table is a durable format):
//! - `path`, `users`, `techniques`, `rules` and `evidence` are Arrow lists, so SQL can
//!   `unnest` them; `hops` is JSON text, one object per step.
//! - An incident is written once per replay, in its final state; `incident_id` is derived
//!   from where the chain started and its first evidence, so replays agree on it.
//! - Columns are only ever added, never renamed or retyped.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
    UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use serde::Serialize;

use crate::{EventId, Severity, Timestamp};

/// Affected individuals from which a breach must be reported to HHS and the media within
/// 60 days of discovery (45 CFR 164.406 and 164.408(b)).
pub const MAJOR_BREACH_INDIVIDUALS: u64 = 500;

/// What the HIPAA breach notification rule asks for, given the number of patients
/// affected, should the incident prove to be a breach of unsecured PHI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Triage {
    /// 500 or more individuals: notify them, HHS and prominent media within 60 days.
    #[serde(rename = "hhs_and_media_within_60_days")]
    HhsAndMediaWithin60Days,
    /// Fewer than 500: notify them within 60 days and HHS in the annual log.
    AnnualLog,
}

impl Triage {
    /// The triage for a number of affected patients.
    pub fn for_patients(affected: u64) -> Triage {
        if affected >= MAJOR_BREACH_INDIVIDUALS {
            Triage::HhsAndMediaWithin60Days
        } else {
            Triage::AnnualLog
        }
    }

    /// What the duty is, for people.
    pub fn explain(self) -> &'static str {
        match self {
            Triage::HhsAndMediaWithin60Days => {
                "500 or more: notify each patient, HHS and prominent media within 60 days \
                 (45 CFR 164.404-408)"
            }
            Triage::AnnualLog => {
                "fewer than 500: notify each patient within 60 days, HHS in the annual log \
                 (45 CFR 164.404, 164.408(c))"
            }
        }
    }

    /// The name stored in the lake, and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Triage::HhsAndMediaWithin60Days => "hhs_and_media_within_60_days",
            Triage::AnnualLog => "annual_log",
        }
    }
}

/// One step of an incident's path: every signal seen from one host to the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    /// The host the step started from.
    pub from: String,
    /// The host it reached.
    pub to: String,
    /// The earliest evidence of the step.
    pub first_seen: Timestamp,
    /// The latest evidence of the step.
    pub last_seen: Timestamp,
    /// Accounts seen on the step, sorted.
    pub users: Vec<String>,
    /// ATT&CK techniques of the rules that saw it, sorted.
    pub techniques: Vec<String>,
    /// The events that prove it, in time order.
    pub evidence: Vec<EventId>,
}

/// A chain of lateral steps from a workstation toward patient data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Deterministic id: 32 hex digits.
    pub incident_id: String,
    /// The earliest evidence of any step.
    pub first_seen: Timestamp,
    /// The latest evidence of any step or of the EHR access that qualified it.
    pub last_seen: Timestamp,
    /// The hosts crossed, in the order they were reached, starting host first.
    pub path: Vec<String>,
    /// Each step with its evidence, in causal order.
    pub hops: Vec<Hop>,
    /// Accounts involved, sorted.
    pub users: Vec<String>,
    /// ATT&CK techniques seen, sorted.
    pub techniques: Vec<String>,
    /// Ids of the rules whose signals make up the incident, sorted.
    pub rules: Vec<String>,
    /// The highest severity of its signals, raised to critical when ePHI was reached.
    pub severity: Severity,
    /// The correlation policy's score; higher is worse.
    pub score: f64,
    /// Why the chain is an incident, such as `reached ephi_db host db-01`.
    pub reason: String,
    /// Every evidence event id, in time order: the steps' and the qualifying EHR access.
    pub evidence: Vec<EventId>,
    /// Distinct patients whose records an involved user or host touched after the first
    /// step.
    pub patients_affected: u64,
    /// The breach notification duty the count implies.
    pub triage: Triage,
}

/// The id of an incident that started at `root` with the evidence event `first`.
pub fn incident_id(root: &str, first: EventId) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"ward incident v1\0");
    hasher.update(root.as_bytes());
    hasher.update(b"\0");
    hasher.update(first.as_bytes());
    crate::signal::hex16(hasher.finalize().as_bytes())
}

fn text_list(name: &str) -> Field {
    let item = Field::new("item", DataType::Utf8, true);
    Field::new(name, DataType::List(Arc::new(item)), false)
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("incident_id", DataType::Utf8, false),
        Field::new("first_seen", time.clone(), false),
        Field::new("last_seen", time, false),
        text_list("path"),
        text_list("users"),
        text_list("techniques"),
        text_list("rules"),
        Field::new("severity", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("reason", DataType::Utf8, false),
        text_list("evidence"),
        Field::new("patients_affected", DataType::UInt64, false),
        Field::new("triage", DataType::Utf8, false),
        Field::new("hops", DataType::Utf8, false),
    ]))
});

/// The Arrow schema of the `incidents` table's files (the `date` partition, of
/// `first_seen`, is in the path).
pub fn incident_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// The incidents as one record batch in [`incident_schema`] order.
pub fn incident_batch<'a>(
    incidents: impl IntoIterator<Item = &'a Incident>,
) -> Result<RecordBatch, ArrowError> {
    let mut id = StringBuilder::new();
    let mut first_seen = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut last_seen = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut lists: [ListBuilder<StringBuilder>; 5] =
        std::array::from_fn(|_| ListBuilder::new(StringBuilder::new()));
    let mut severity = StringBuilder::new();
    let mut score = Float64Builder::new();
    let mut reason = StringBuilder::new();
    let mut patients = UInt64Builder::new();
    let mut triage = StringBuilder::new();
    let mut hops = StringBuilder::new();

    for incident in incidents {
        id.append_value(&incident.incident_id);
        first_seen.append_value(incident.first_seen.micros());
        last_seen.append_value(incident.last_seen.micros());
        let evidence: Vec<String> = incident.evidence.iter().map(EventId::to_string).collect();
        let values = [
            &incident.path,
            &incident.users,
            &incident.techniques,
            &incident.rules,
            &evidence,
        ];
        for (list, values) in lists.iter_mut().zip(values) {
            list.append_value(values.iter().map(Some));
        }
        severity.append_value(incident.severity.as_str());
        score.append_value(incident.score);
        reason.append_value(&incident.reason);
        patients.append_value(incident.patients_affected);
        triage.append_value(incident.triage.as_str());
        let json = serde_json::to_string(&incident.hops)
            .map_err(|error| ArrowError::ExternalError(Box::new(error)))?;
        hops.append_value(json);
    }

    let [path, users, techniques, rules, evidence] = lists.map(|mut list| list.finish());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(first_seen.finish()),
        Arc::new(last_seen.finish()),
        Arc::new(path),
        Arc::new(users),
        Arc::new(techniques),
        Arc::new(rules),
        Arc::new(severity.finish()),
        Arc::new(score.finish()),
        Arc::new(reason.finish()),
        Arc::new(evidence),
        Arc::new(patients.finish()),
        Arc::new(triage.finish()),
        Arc::new(hops.finish()),
    ];
    RecordBatch::try_new(incident_schema(), columns)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;

    use super::*;

    #[test]
    fn triage_turns_at_five_hundred_patients() {
        assert_eq!(Triage::for_patients(0), Triage::AnnualLog);
        assert_eq!(Triage::for_patients(499), Triage::AnnualLog);
        assert_eq!(Triage::for_patients(500), Triage::HhsAndMediaWithin60Days);
    }

    #[test]
    fn a_batch_keeps_the_path_in_order() {
        let evidence = EventId::of_record(b"4624");
        let at = Timestamp::from_micros(1_600_000_000_000_000);
        let incident = Incident {
            incident_id: incident_id("ws-01", evidence),
            first_seen: at,
            last_seen: at,
            path: vec!["ws-01".into(), "ws-02".into(), "db-01".into()],
            hops: vec![Hop {
                from: "ws-01".into(),
                to: "ws-02".into(),
                first_seen: at,
                last_seen: at,
                users: vec!["alice".into()],
                techniques: vec!["T1021".into()],
                evidence: vec![evidence],
            }],
            users: vec!["alice".into()],
            techniques: vec!["T1021".into()],
            rules: vec!["remote-logon-network".into()],
            severity: Severity::Critical,
            score: 9.0,
            reason: "reached ephi_db host db-01".into(),
            evidence: vec![evidence],
            patients_affected: 512,
            triage: Triage::for_patients(512),
        };
        let batch = incident_batch([&incident]).expect("the batch matches the schema");

        let path = batch.column_by_name("path").expect("path").as_list::<i32>();
        let path = path.value(0);
        let path: Vec<&str> = path.as_string::<i32>().iter().flatten().collect();
        assert_eq!(path, ["ws-01", "ws-02", "db-01"]);
        let triage = batch
            .column_by_name("triage")
            .expect("triage")
            .as_string::<i32>();
        assert_eq!(triage.value(0), "hhs_and_media_within_60_days");
        let hops = batch
            .column_by_name("hops")
            .expect("hops")
            .as_string::<i32>();
        assert!(hops.value(0).contains("\"from\":\"ws-01\""));
    }

    #[test]
    fn triage_reads_the_same_in_json_and_in_the_lake() {
        for triage in [Triage::HhsAndMediaWithin60Days, Triage::AnnualLog] {
            let json = serde_json::to_value(triage).expect("a triage serializes");
            assert_eq!(json, triage.as_str());
        }
    }
}
