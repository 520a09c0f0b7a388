//! Suricata EVE JSON to events.
//!
//! One EVE record is one event. Every event has `src_ip`/`src_port` and
//! `dst_ip`/`dst_port` from `src_*`/`dest_*`, `host` from `host` (Suricata's sensor name,
//! when configured), and `observed_time` from the transport's receive time. `timestamp`
//! carries a zone offset (`-0600`) or none at all; a time with no zone is taken as UTC,
//! as Suricata writes it in UTC mode. A missing `timestamp` or `event_type` makes a dead
//! letter.
//!
//! | event_type | class | activity | also |
//! |---|---|---|---|
//! | alert | detection_finding | `alert` | `signature`, `event_code` = signature id, severity |
//! | flow | network_activity | `traffic` | |
//! | smb | smb_activity | `share_map`, `file_open`, or the SMB command | share, user |
//! | any other | network_activity | the event type (`dns`, `tls`, `anomaly`) | |
//!
//! Choices a query writer should know:
//! - `protocol` is `app_proto` when Suricata identified one (`http`, `smb`), else the
//!   transport `proto` (`tcp`), lowercased, like Zeek's application logs.
//! - Alert severity is Suricata's priority, where 1 is the most urgent: 1 is high, 2
//!   medium, 3 low, anything else informational.
//! - An alert's `outcome` is `failure` only when Suricata blocked the traffic; an alert
//!   that let it pass says nothing about whether the attack worked, so it has none.

use std::net::IpAddr;

use ward_schemas::names::HostName;
use ward_schemas::{Class, Event, Outcome, Severity};

use super::zeek::UncShare;
use crate::json::{Object, Value};
use crate::record::Record;
use crate::{Format, NormalizeError, timefmt};

/// The format every error of this module names.
const FORMAT: Format = Format::SuricataEve;

/// Normalizes one Suricata EVE record.
pub(crate) fn normalize(
    object: &Object<'_>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    let origin = super::origin(record, FORMAT)?;
    let time = match object
        .get("timestamp")
        .filter(|value| !matches!(value, Value::Null))
    {
        Some(value) => timefmt::parse_value(value).ok_or(NormalizeError::InvalidField {
            format: FORMAT,
            field: "timestamp",
            reason: "not an ISO 8601 time",
        })?,
        None => {
            return Err(NormalizeError::MissingField {
                format: FORMAT,
                field: "timestamp",
            });
        }
    };
    let event_type = text(object, "event_type")
        .ok_or(NormalizeError::MissingField {
            format: FORMAT,
            field: "event_type",
        })?
        .to_ascii_lowercase();

    let mut event = Event::new(origin, time, Class::NetworkActivity, event_type.as_str());
    event.observed_time = record.received;
    if let Some(sensor) = object.get("host").and_then(Value::text) {
        event.set_host(&sensor);
    }
    event.src_ip = text(object, "src_ip");
    event.src_port = object.get("src_port").and_then(Value::as_port);
    event.dst_ip = text(object, "dest_ip");
    event.dst_port = object.get("dest_port").and_then(Value::as_port);
    event.protocol = protocol(object);

    match event_type.as_str() {
        "alert" => alert(object, &mut event)?,
        "flow" => event.activity = "traffic".to_owned(),
        "smb" => smb(object, &mut event),
        _ => {}
    }
    out.push(event);
    Ok(())
}

/// The application protocol Suricata identified, or else the transport.
fn protocol(object: &Object<'_>) -> Option<String> {
    let app = object
        .get("app_proto")
        .and_then(Value::text)
        .filter(|proto| {
            !proto.eq_ignore_ascii_case("failed") && !proto.eq_ignore_ascii_case("unknown")
        });
    app.or_else(|| object.get("proto").and_then(Value::text))
        .map(|proto| proto.to_ascii_lowercase())
}

/// alert: a signature matched. An alert without its `alert` object is a dead letter: it
/// would be a finding with nothing found.
fn alert(object: &Object<'_>, event: &mut Event) -> Result<(), NormalizeError> {
    event.class = Class::DetectionFinding;
    event.activity = "alert".to_owned();
    let alert =
        object
            .get("alert")
            .and_then(Value::as_object)
            .ok_or(NormalizeError::MissingField {
                format: FORMAT,
                field: "alert",
            })?;

    event.signature = text(alert, "signature");
    event.event_code = text(alert, "signature_id");
    event.severity = alert
        .get("severity")
        .and_then(Value::as_i64)
        .map(severity_of);
    let blocked = alert
        .get("action")
        .and_then(Value::text)
        .is_some_and(|action| action.eq_ignore_ascii_case("blocked"));
    event.outcome = blocked.then_some(Outcome::Failure);
    Ok(())
}

/// Suricata's alert priority (1 most urgent) on ward's severity scale.
fn severity_of(priority: i64) -> Severity {
    match priority {
        1 => Severity::High,
        2 => Severity::Medium,
        3 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// smb: one SMB command, named like Zeek's SMB logs where the two overlap.
fn smb(object: &Object<'_>, event: &mut Event) {
    event.class = Class::SmbActivity;
    event.protocol = Some("smb".to_owned());
    let Some(smb) = object.get("smb").and_then(Value::as_object) else {
        return;
    };

    // `SMB2_COMMAND_TREE_CONNECT`, `SMB1_COMMAND_NT_CREATE_ANDX`: the part after
    // `COMMAND_` is the command.
    if let Some(command) = smb.get("command").and_then(Value::text) {
        let command = command
            .split_once("COMMAND_")
            .map_or(&*command, |(_, name)| name);
        event.activity = match command {
            "TREE_CONNECT" | "TREE_CONNECT_ANDX" => "share_map".to_owned(),
            "CREATE" | "NT_CREATE_ANDX" => "file_open".to_owned(),
            other => other.to_ascii_lowercase(),
        };
    }

    if let Some(path) = smb.get("share").and_then(Value::text) {
        let share = UncShare::parse(&path);
        event.share_name = share.share.map(str::to_uppercase);
        if let Some(server) = share.server.filter(|s| s.parse::<IpAddr>().is_err()) {
            event.dst_host = HostName::parse(server).map(|name| name.host);
        }
    }
    if let Some(name) = smb.get("filename").and_then(Value::text) {
        let target = name.trim_start_matches('\\');
        event.share_target = (!target.is_empty()).then(|| target.to_owned());
        event.file_path = Some(name.into_owned());
    }

    event.outcome = smb.get("status").and_then(Value::text).and_then(|status| {
        if status.eq_ignore_ascii_case("STATUS_SUCCESS") {
            Some(Outcome::Success)
        } else if status.contains("DENIED") || status.contains("FAILURE") {
            Some(Outcome::Failure)
        } else {
            None
        }
    });

    if let Some(ntlm) = smb.get("ntlmssp").and_then(Value::as_object) {
        if let Some(user) = ntlm.get("user").and_then(Value::text) {
            event.set_user(&user, ntlm.get("domain").and_then(Value::text).as_deref());
        }
        let client = ntlm.get("host").and_then(Value::text);
        event.src_host = client
            .and_then(|host| HostName::parse(&host))
            .map(|name| name.host);
    }
}

/// An owned copy of a member's text.
fn text(object: &Object<'_>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::text)
        .map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;

    /// An alert as Suricata writes it with a local clock six hours behind UTC.
    fn alert_json() -> Json {
        json!({
            "timestamp": "2015-03-29T11:01:38.221126-0600", "flow_id": 1,
            "event_type": "alert", "src_ip": "203.0.113.7", "src_port": 4904,
            "dest_ip": "192.168.0.2", "dest_port": 22, "proto": "TCP",
            "alert": {
                "action": "allowed", "gid": 1, "signature_id": 2001219, "rev": 20,
                "signature": "ET SCAN Potential SSH Scan",
                "category": "Attempted Information Leak", "severity": 2,
            },
        })
    }

    /// The alert with one member set, at a JSON pointer such as `/alert/severity`.
    fn alert_with(pointer: &str, value: Json) -> String {
        let mut alert = alert_json();
        *alert
            .pointer_mut(pointer)
            .expect("the fixture has this member") = value;
        alert.to_string()
    }

    fn eve(line: &str) -> Result<Event, NormalizeError> {
        let object = Object::parse(line.as_bytes()).expect("fixture is JSON");
        let mut out = Vec::new();
        normalize(
            &object,
            &Record::new(line.as_bytes(), "eve.json:3"),
            &mut out,
        )?;
        assert_eq!(out.len(), 1, "one record makes one event");
        Ok(out.remove(0))
    }

    #[test]
    fn alert_with_offset_converts_to_utc() {
        let event = eve(&alert_json().to_string()).expect("alert");
        assert_eq!(event.time.to_string(), "2015-03-29T17:01:38.221126Z");
        assert_eq!(event.class, Class::DetectionFinding);
        assert_eq!(event.activity, "alert");
        assert_eq!(
            event.signature.as_deref(),
            Some("ET SCAN Potential SSH Scan")
        );
        assert_eq!(event.event_code.as_deref(), Some("2001219"));
        assert_eq!(event.severity, Some(Severity::Medium));
        assert_eq!(event.outcome, None);
        assert_eq!(event.src_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(event.src_port, Some(4904));
        assert_eq!(event.dst_ip.as_deref(), Some("192.168.0.2"));
        assert_eq!(event.dst_port, Some(22));
        assert_eq!(event.protocol.as_deref(), Some("tcp"));
        assert_eq!(event.source_format, "suricata-eve");
        assert_eq!(event.provenance, "eve.json:3");
    }

    #[test]
    fn time_without_zone_is_utc() {
        let line = alert_with("/timestamp", json!("2019-01-02T03:50:11.315110"));
        let event = eve(&line).expect("alert");
        assert_eq!(event.time.to_string(), "2019-01-02T03:50:11.315110Z");
    }

    #[test]
    fn severity_one_is_the_most_urgent() {
        let severity = |level: Json| {
            eve(&alert_with("/alert/severity", level))
                .expect("alert")
                .severity
        };
        assert_eq!(severity(json!(1)), Some(Severity::High));
        assert_eq!(severity(json!(2)), Some(Severity::Medium));
        assert_eq!(severity(json!("3")), Some(Severity::Low));
        assert_eq!(severity(json!(4)), Some(Severity::Informational));
        assert_eq!(severity(json!(null)), None);
    }

    #[test]
    fn blocked_alerts_are_failures_and_app_proto_wins() {
        let mut alert = alert_json();
        alert["alert"]["action"] = json!("blocked");
        alert["app_proto"] = json!("ssh");
        let event = eve(&alert.to_string()).expect("alert");
        assert_eq!(event.outcome, Some(Outcome::Failure));
        assert_eq!(event.protocol.as_deref(), Some("ssh"));

        alert["app_proto"] = json!("failed");
        assert_eq!(
            eve(&alert.to_string()).expect("alert").protocol.as_deref(),
            Some("tcp")
        );
    }

    #[test]
    fn flow_is_traffic_and_other_types_keep_their_name() {
        let line = json!({
            "timestamp": "2020-09-20T16:16:56.010Z", "event_type": "flow",
            "src_ip": "10.0.0.1", "src_port": 5000, "dest_ip": "10.0.0.2", "dest_port": 53,
            "proto": "UDP", "app_proto": "dns", "host": "IDS01.example.org",
            "flow": {"pkts_toserver": 1},
        });
        let event = eve(&line.to_string()).expect("flow");
        assert_eq!(
            (event.class, event.activity.as_str()),
            (Class::NetworkActivity, "traffic")
        );
        assert_eq!(event.protocol.as_deref(), Some("dns"));
        assert_eq!(event.host.as_deref(), Some("ids01"));
        assert_eq!(event.event_code, None);

        let line = r#"{"timestamp":"2020-09-20T16:16:56.010Z","event_type":"stats","stats":{}}"#;
        let event = eve(line).expect("stats");
        assert_eq!(
            (event.class, event.activity.as_str()),
            (Class::NetworkActivity, "stats")
        );
        assert_eq!(event.src_ip, None);
    }

    #[test]
    fn smb_events_read_like_zeek_smb_logs() {
        let line = json!({
            "timestamp": "2020-09-20T16:16:56.010Z", "event_type": "smb",
            "src_ip": "172.18.39.5", "dest_ip": "172.18.39.6", "dest_port": 445, "proto": "TCP",
            "smb": {
                "command": "SMB2_COMMAND_TREE_CONNECT", "status": "STATUS_SUCCESS",
                "share": "\\\\WORKSTATION6\\admin$",
                "ntlmssp": {"domain": "THESHIRE", "user": "pgustavo", "host": "WORKSTATION5"},
            },
        });
        let event = eve(&line.to_string()).expect("smb");
        assert_eq!(event.class, Class::SmbActivity);
        assert_eq!(event.activity, "share_map");
        assert_eq!(event.share_name.as_deref(), Some("ADMIN$"));
        assert_eq!(event.dst_host.as_deref(), Some("workstation6"));
        assert_eq!(event.user.as_deref(), Some("pgustavo"));
        assert_eq!(event.user_domain.as_deref(), Some("theshire"));
        assert_eq!(event.src_host.as_deref(), Some("workstation5"));
        assert_eq!(event.outcome, Some(Outcome::Success));

        let line = json!({
            "timestamp": "2020-09-20T16:16:57Z", "event_type": "smb",
            "smb": {
                "command": "SMB2_COMMAND_CREATE", "filename": "\\svcctl",
                "status": "STATUS_ACCESS_DENIED",
            },
        });
        let event = eve(&line.to_string()).expect("smb");
        assert_eq!(event.activity, "file_open");
        assert_eq!(event.share_target.as_deref(), Some("svcctl"));
        assert_eq!(event.outcome, Some(Outcome::Failure));
    }

    proptest::proptest! {
        #[test]
        fn no_value_makes_it_panic(
            value in proptest::prelude::any::<String>(),
            number in proptest::prelude::any::<i64>(),
        ) {
            for timestamp in [json!(value), json!("2020-01-01T00:00:00Z")] {
                for event_type in ["alert", "smb", "flow"] {
                    let line = json!({
                        "timestamp": timestamp, "event_type": event_type, "src_port": number,
                        "app_proto": value, "host": value,
                        "alert": {"severity": number, "signature": value, "action": value},
                        "smb": {"command": value, "share": value, "filename": value},
                    });
                    let _ = eve(&line.to_string());
                }
            }
        }
    }

    #[test]
    fn bad_records_are_errors_that_quote_nothing() {
        let err = eve(r#"{"event_type":"alert","src_ip":"10.0.0.1"}"#).expect_err("no time");
        assert_eq!(
            err,
            NormalizeError::MissingField {
                format: FORMAT,
                field: "timestamp"
            }
        );

        let line = alert_with("/timestamp", json!("Jane Doe, MRN 12345"));
        let err = eve(&line).expect_err("unreadable time");
        assert!(matches!(
            err,
            NormalizeError::InvalidField {
                field: "timestamp",
                ..
            }
        ));
        let message = err.to_string();
        assert!(
            !message.contains("Jane") && !message.contains("12345"),
            "{message}"
        );

        let err = eve(r#"{"timestamp":"2020-09-20T16:16:56Z"}"#).expect_err("no type");
        assert_eq!(
            err,
            NormalizeError::MissingField {
                format: FORMAT,
                field: "event_type"
            }
        );
        let err = eve(r#"{"timestamp":"2020-09-20T16:16:56Z","event_type":"alert"}"#)
            .expect_err("an alert without its alert object");
        assert_eq!(
            err,
            NormalizeError::MissingField {
                format: FORMAT,
                field: "alert"
            }
        );
    }
}
