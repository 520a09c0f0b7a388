//! Rule tests: fixture events in, expected signals out.
//!
//! Each rule `<id>.rhai` may have a fixture file `<id>.test.toml` beside it:
//!
//! ```toml
//! [[case]]
//! name = "network logon from another workstation"
//! events = [
//!   { class = "authentication", event_code = "4624", host = "ws-02",
//!     src_ip = "10.0.0.1", user = "alice", logon_type = 3 },
//! ]
//! expect = [ { src_ip = "10.0.0.1", dst_host = "ws-02", user = "alice" } ]
//! ```
//!
//! An event is written with the event column names; `class` is required, `source_kind`
//! defaults to `edr` and `time` (RFC 3339) to 2024-01-01T00:00:00Z plus the event's
//! position in seconds. A case passes when the rule raises exactly the expected signals,
//! in order, each with the listed fields. Each case runs every loaded rule, from empty
//! memory, but only the fixture's own rule's signals are compared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::DateTime;
use serde::Deserialize;
use ward_schemas::event::Origin;
use ward_schemas::{Class, Event, Outcome, Severity, Signal, SourceKind, Timestamp};

use crate::error::DetectionError;
use crate::rules::RuleSet;

/// The outcome of one fixture case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// The rule under test.
    pub rule_id: String,
    /// The case's name.
    pub case: String,
    /// `None` when the case passed; otherwise what differed.
    pub failure: Option<String>,
}

/// The outcome of every fixture of a folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureReport {
    /// One entry per case, in file and case order.
    pub cases: Vec<CaseOutcome>,
    /// Loaded rules that have no fixture file.
    pub untested: Vec<String>,
}

impl FixtureReport {
    /// Cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseOutcome> {
        self.cases.iter().filter(|case| case.failure.is_some())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    events: Vec<FixtureEvent>,
    expect: Vec<BTreeMap<String, String>>,
}

/// An event as a fixture writes it: the columns a rule reads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureEvent {
    class: String,
    time: Option<String>,
    source_kind: Option<String>,
    activity: Option<String>,
    event_code: Option<String>,
    host: Option<String>,
    src_host: Option<String>,
    src_ip: Option<String>,
    src_port: Option<u16>,
    dst_host: Option<String>,
    dst_ip: Option<String>,
    dst_port: Option<u16>,
    protocol: Option<String>,
    user: Option<String>,
    user_domain: Option<String>,
    logon_type: Option<i32>,
    logon_id: Option<String>,
    process_name: Option<String>,
    process_path: Option<String>,
    command_line: Option<String>,
    parent_process_name: Option<String>,
    service_name: Option<String>,
    share_name: Option<String>,
    share_target: Option<String>,
    file_path: Option<String>,
    patient_id: Option<String>,
    ehr_action: Option<String>,
    ehr_resource: Option<String>,
    purpose_of_use: Option<String>,
    break_glass: Option<bool>,
    outcome: Option<String>,
    severity: Option<String>,
    signature: Option<String>,
}

/// Fields an expectation may check.
const CHECKED: [&str; 7] = [
    "src_host", "src_ip", "dst_host", "dst_ip", "user", "severity", "host",
];

/// Runs every `*.test.toml` in `dir` against `rules` (loaded from the same folder).
pub fn run_fixtures(rules: &mut RuleSet, dir: &Path) -> Result<FixtureReport, DetectionError> {
    let read_error = |path: &Path, source| DetectionError::Read {
        path: path.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| read_error(dir, source))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.to_string_lossy().ends_with(".test.toml"))
        .collect();
    files.sort();

    let mut report = FixtureReport::default();
    let mut tested = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| read_error(&path, source))?;
        let fixture: FixtureFile =
            toml::from_str(&text).map_err(|error| DetectionError::Fixture {
                path: path.clone(),
                message: error.to_string(),
            })?;
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        let rule_id = name
            .unwrap_or_default()
            .trim_end_matches(".test.toml")
            .to_owned();
        if !rules.rules().any(|rule| rule.id == rule_id) {
            report.cases.push(CaseOutcome {
                rule_id: rule_id.clone(),
                case: "(all)".into(),
                failure: Some("no loaded rule has this id; see the load problems".into()),
            });
            continue;
        }

        for (number, case) in fixture.case.iter().enumerate() {
            let failure = run_case(rules, &path, &rule_id, number, case)?;
            report.cases.push(CaseOutcome {
                rule_id: rule_id.clone(),
                case: case.name.clone(),
                failure,
            });
        }
        tested.push(rule_id);
    }

    let untested = rules.rules().filter(|rule| !tested.contains(&rule.id));
    report.untested = untested.map(|rule| rule.id.clone()).collect();
    Ok(report)
}

fn run_case(
    rules: &mut RuleSet,
    path: &Path,
    rule_id: &str,
    number: usize,
    case: &Case,
) -> Result<Option<String>, DetectionError> {
    rules.reset_memory();
    let mut signals: Vec<Signal> = Vec::new();
    for (index, fixture) in case.events.iter().enumerate() {
        let provenance = format!("{}:case {}:event {}", path.display(), number + 1, index + 1);
        let event =
            to_event(fixture, index, &provenance).map_err(|message| DetectionError::Fixture {
                path: path.to_owned(),
                message: format!("case {:?}, event {}: {message}", case.name, index + 1),
            })?;
        let fired = rules.detect(&Arc::new(event));
        signals.extend(fired.into_iter().filter(|signal| signal.rule_id == rule_id));
    }

    if signals.len() != case.expect.len() {
        return Ok(Some(format!(
            "expected {} signals, got {}",
            case.expect.len(),
            signals.len()
        )));
    }
    for (index, (signal, expected)) in signals.iter().zip(&case.expect).enumerate() {
        for (field, wanted) in expected {
            let Some(actual) = field_of(signal, field) else {
                return Err(DetectionError::Fixture {
                    path: path.to_owned(),
                    message: format!(
                        "case {:?} expects field {field:?}; checkable fields are {}",
                        case.name,
                        CHECKED.join(", ")
                    ),
                });
            };
            if actual.as_deref() != Some(wanted.as_str()) {
                return Ok(Some(format!(
                    "signal {}: {field} is {actual:?}, expected {wanted:?}",
                    index + 1
                )));
            }
        }
    }
    Ok(None)
}

fn field_of(signal: &Signal, field: &str) -> Option<Option<String>> {
    Some(match field {
        "src_host" => signal.src_host.clone(),
        "src_ip" => signal.src_ip.clone(),
        "dst_host" => signal.dst_host.clone(),
        "dst_ip" => signal.dst_ip.clone(),
        "user" => signal.user.clone(),
        "host" => signal.host.clone(),
        "severity" => Some(signal.severity.as_str().to_owned()),
        _ => return None,
    })
}

fn to_event(fixture: &FixtureEvent, index: usize, provenance: &str) -> Result<Event, String> {
    let class = Class::from_name(&fixture.class)
        .ok_or_else(|| format!("unknown class {:?}", fixture.class))?;
    let kind = fixture.source_kind.as_deref().unwrap_or("edr");
    let kind =
        SourceKind::from_name(kind).ok_or_else(|| format!("unknown source_kind {kind:?}"))?;
    let time = match &fixture.time {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|time| Timestamp::from_datetime(&time))
            .map_err(|error| format!("time {text:?}: {error}"))?,
        // 2024-01-01T00:00:00Z, one second per event.
        None => Timestamp::from_micros((1_704_067_200 + index as i64) * 1_000_000),
    };

    let origin = Origin {
        raw: provenance,
        provenance,
        kind,
        format: "fixture",
    };
    let activity = fixture.activity.clone().unwrap_or_else(|| "unknown".into());
    let mut event = Event::new(origin, time, class, activity);
    event.event_code = fixture.event_code.clone();
    event.host = fixture.host.clone();
    event.src_host = fixture.src_host.clone();
    event.src_ip = fixture.src_ip.clone();
    event.src_port = fixture.src_port;
    event.dst_host = fixture.dst_host.clone();
    event.dst_ip = fixture.dst_ip.clone();
    event.dst_port = fixture.dst_port;
    event.protocol = fixture.protocol.clone();
    event.user = fixture.user.clone();
    event.user_domain = fixture.user_domain.clone();
    event.logon_type = fixture.logon_type;
    event.logon_id = fixture.logon_id.clone();
    event.process_name = fixture.process_name.clone();
    event.process_path = fixture.process_path.clone();
    event.command_line = fixture.command_line.clone();
    event.parent_process_name = fixture.parent_process_name.clone();
    event.service_name = fixture.service_name.clone();
    event.share_name = fixture.share_name.clone();
    event.share_target = fixture.share_target.clone();
    event.file_path = fixture.file_path.clone();
    event.patient_id = fixture.patient_id.clone();
    event.ehr_action = fixture.ehr_action.clone();
    event.ehr_resource = fixture.ehr_resource.clone();
    event.purpose_of_use = fixture.purpose_of_use.clone();
    event.break_glass = fixture.break_glass;
    event.signature = fixture.signature.clone();
    if let Some(name) = &fixture.outcome {
        event.outcome = Some(Outcome::from_name(name).ok_or_else(|| format!("outcome {name:?}"))?);
    }
    if let Some(name) = &fixture.severity {
        let severity = Severity::from_name(name).ok_or_else(|| format!("severity {name:?}"))?;
        event.severity = Some(severity);
    }
    Ok(event)
}
