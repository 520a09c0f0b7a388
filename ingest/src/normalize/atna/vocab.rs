//! The DICOM audit vocabulary that ATNA messages and FHIR AuditEvents share.
//!
//! FHIR AuditEvent took its event types, action codes, outcome codes and network access
//! point types from DICOM PS3.15 (and RFC 3881 before it), so both normalizers classify
//! with the tables here, and one event reads the same whichever way it travelled:
//!
//! - 110127 / 110128 Emergency Override Started / Stopped: `ehr_activity`, activity
//!   `break_glass_start` / `break_glass_stop`, and the event is a break-glass access.
//! - 110122 Login / 110123 Logout: `authentication`, `logon` / `logoff`.
//! - 110114 User Authentication without either: `authentication`, `authenticate`.
//! - 110113 Security Alert: `detection_finding`, `alert`.
//! - 110100 Application Activity, 110101 Audit Log Used: `application_activity`, `start`
//!   (110120), `stop` (110121), else the action verb.
//! - anything else (patient record, instances accessed or transferred, query, export, FHIR
//!   REST operations, ...): `ehr_activity`, the action verb.
//!
//! The rules are tried top to bottom over all of an event's codes, so an emergency override
//! reported as a Security Alert subtype is a break-glass access, not an alert. The action
//! verb comes from the action code (`C`, `R`, `U`, `D`, `E` to `create`, `read`, `update`,
//! `delete`, `execute`); an event without one has the activity `other`.

use std::net::IpAddr;

use ward_schemas::names::HostName;
use ward_schemas::{Class, Event, Outcome};

/// DICOM role of the participant that sent or requested the data (`110153`).
pub(crate) const SOURCE_ROLE: &str = "110153";
/// DICOM role of the participant that received the data (`110152`).
pub(crate) const DESTINATION_ROLE: &str = "110152";
/// DICOM role of removable media the data was written to (`110154`).
pub(crate) const DESTINATION_MEDIA: &str = "110154";

/// What an audit event records, as far as ward's classes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An emergency override of access control began (110127).
    BreakGlassStart,
    /// An emergency override of access control ended (110128).
    BreakGlassStop,
    /// A user logged in (110122).
    Logon,
    /// A user logged out (110123).
    Logoff,
    /// Some other user authentication event (110114).
    Authentication,
    /// A security alert (110113): node authentication, configuration changes and the like.
    SecurityAlert,
    /// An application started (110120 under 110100).
    ApplicationStart,
    /// An application stopped (110121 under 110100).
    ApplicationStop,
    /// Other application activity, or the audit log itself being read (110100, 110101).
    Application,
    /// Anything done to a patient's record or the objects in it.
    Record,
}

impl Kind {
    /// Classifies an event from all its event id and type codes, in any order.
    pub(crate) fn of_codes<S: AsRef<str>>(codes: impl IntoIterator<Item = S>) -> Kind {
        let mut seen = [false; 10];
        const CODES: [&str; 10] = [
            "110127", "110128", "110122", "110123", "110114", "110113", "110120", "110121",
            "110100", "110101",
        ];
        for code in codes {
            if let Some(i) = CODES.iter().position(|c| *c == code.as_ref().trim()) {
                seen[i] = true;
            }
        }

        let [
            bg_start,
            bg_stop,
            login,
            logout,
            auth,
            alert,
            start,
            stop,
            app,
            log_used,
        ] = seen;
        if bg_start {
            Kind::BreakGlassStart
        } else if bg_stop {
            Kind::BreakGlassStop
        } else if login {
            Kind::Logon
        } else if logout {
            Kind::Logoff
        } else if auth {
            Kind::Authentication
        } else if alert {
            Kind::SecurityAlert
        } else if app && start {
            Kind::ApplicationStart
        } else if app && stop {
            Kind::ApplicationStop
        } else if app || log_used {
            Kind::Application
        } else {
            Kind::Record
        }
    }

    /// The event class and activity. `verb` is the action code's verb, used where the kind
    /// itself names no activity.
    pub(crate) fn class_and_activity(self, verb: Option<&'static str>) -> (Class, &'static str) {
        let verb = verb.unwrap_or("other");
        match self {
            Kind::BreakGlassStart => (Class::EhrActivity, "break_glass_start"),
            Kind::BreakGlassStop => (Class::EhrActivity, "break_glass_stop"),
            Kind::Logon => (Class::Authentication, "logon"),
            Kind::Logoff => (Class::Authentication, "logoff"),
            Kind::Authentication => (Class::Authentication, "authenticate"),
            Kind::SecurityAlert => (Class::DetectionFinding, "alert"),
            Kind::ApplicationStart => (Class::ApplicationActivity, "start"),
            Kind::ApplicationStop => (Class::ApplicationActivity, "stop"),
            Kind::Application => (Class::ApplicationActivity, verb),
            Kind::Record => (Class::EhrActivity, verb),
        }
    }

    /// Whether the event is itself an emergency override.
    pub(crate) fn is_break_glass(self) -> bool {
        matches!(self, Kind::BreakGlassStart | Kind::BreakGlassStop)
    }
}

/// The verb of a DICOM / FHIR action code: `C`, `R`, `U`, `D`, `E`.
pub(crate) fn action_verb(code: &str) -> Option<&'static str> {
    match code.trim() {
        "C" | "c" => Some("create"),
        "R" | "r" => Some("read"),
        "U" | "u" => Some("update"),
        "D" | "d" => Some("delete"),
        "E" | "e" => Some("execute"),
        _ => None,
    }
}

/// The outcome of a DICOM EventOutcomeIndicator or FHIR outcome code.
///
/// `0` is success and `4`, `8`, `12` are minor, serious and major failures. FHIR R5 also
/// allows issue severities: `information` and `warning` report an action that happened,
/// `error` and `fatal` one that did not. Anything else is unknown.
pub(crate) fn outcome(code: &str) -> Option<Outcome> {
    match code.trim().to_ascii_lowercase().as_str() {
        "0" | "success" | "information" | "informational" | "warning" => Some(Outcome::Success),
        "4" | "8" | "12" | "error" | "fatal" | "failure" => Some(Outcome::Failure),
        _ => None,
    }
}

/// Whether a purpose-of-use code (HL7 v3 ActReason) declares an emergency: `ETREAT`
/// (emergency treatment) or `BTG` (break the glass).
pub(crate) fn is_emergency_purpose(code: &str) -> bool {
    let code = code.trim();
    code.eq_ignore_ascii_case("ETREAT") || code.eq_ignore_ascii_case("BTG")
}

/// Whether a code's display text speaks of breaking the glass (`Break-Glass`,
/// `break the glass`, `BreakGlass`).
pub(crate) fn mentions_break_glass(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("break") && text.contains("glass")
}

/// The identifier in a patient id that may be an HL7 v2 CX value (`GE1118^^^JMS`, with the
/// assigning authority after `^^^`): the part before the first `^`. The authority is
/// dropped so that the same MRN joins across sources that do and do not write it; `raw`
/// keeps it. dcm4chee's `<none>` placeholder and empty values are no id.
pub(crate) fn patient_number(id: &str) -> Option<&str> {
    let number = id.split('^').next().unwrap_or(id).trim();
    (!number.is_empty() && number != "<none>" && number != "-").then_some(number)
}

/// A network access point: where a participant was on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetworkPoint {
    /// A machine name, as a lowercase short name (the domain is dropped).
    Host(String),
    /// An IP address in its canonical text form.
    Ip(String),
}

/// Reads a network access point. `type_code` is the DICOM NetworkAccessPointTypeCode, which
/// FHIR R4 copies: 1 machine name, 2 IP address, 3 telephone number, 4 email address, 5 URI;
/// without one the shape of the text decides. Telephone numbers and email addresses are not
/// network locations ward can join on and are ignored. A URI gives its host, without any
/// user name or password written into it.
pub(crate) fn network_point(id: &str, type_code: Option<&str>) -> Option<NetworkPoint> {
    let id = id.trim();
    match type_code.map(str::trim) {
        Some("3" | "4") => None,
        Some("5") => uri_host(id).and_then(host_or_ip),
        _ if id.contains("://") || id.starts_with("urn:") => uri_host(id).and_then(host_or_ip),
        _ => host_or_ip(id),
    }
}

/// Whether a name can be a host name or IP address; free text such as an application's
/// display name cannot.
pub(crate) fn is_host_name(name: &str) -> bool {
    let name = name.trim();
    name.parse::<IpAddr>().is_ok()
        || (!name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
}

/// Sets `src_host` or `src_ip` from a network access point, unless already set.
pub(crate) fn fill_source(event: &mut Event, point: NetworkPoint) {
    match point {
        NetworkPoint::Host(host) => {
            event.src_host.get_or_insert(host);
        }
        NetworkPoint::Ip(ip) => {
            event.src_ip.get_or_insert(ip);
        }
    }
}

/// Sets `dst_host` or `dst_ip` from a network access point, unless already set.
pub(crate) fn fill_destination(event: &mut Event, point: NetworkPoint) {
    match point {
        NetworkPoint::Host(host) => {
            event.dst_host.get_or_insert(host);
        }
        NetworkPoint::Ip(ip) => {
            event.dst_ip.get_or_insert(ip);
        }
    }
}

/// An IP address, or a machine name (with or without a port) as its short name.
fn host_or_ip(text: &str) -> Option<NetworkPoint> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(NetworkPoint::Ip(ip.to_string()));
    }

    // `impax-host:8780`: a machine name with a port.
    let name = match text.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => text,
    };
    if !is_host_name(name) {
        return None;
    }
    HostName::parse(name).map(|name| NetworkPoint::Host(name.host))
}

/// The host of a URI (`http://user:pw@host:port/path`), or the address of an
/// `urn:ipv4:` / `urn:ipv6:` URN.
fn uri_host(uri: &str) -> Option<&str> {
    for prefix in ["urn:ipv4:", "urn:ipv6:", "urn:dns:"] {
        if let Some(address) = uri
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
        {
            return Some(&uri[address.len()..]);
        }
    }

    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if let Some(bracketed) = host_port.strip_prefix('[') {
        return bracketed.split(']').next();
    }
    let host = host_port.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_codes_win_over_security_alert() {
        assert_eq!(Kind::of_codes(["110113", "110127"]), Kind::BreakGlassStart);
        assert_eq!(Kind::of_codes(["110113", "110126"]), Kind::SecurityAlert);
        assert_eq!(Kind::of_codes(["110114", "110123"]), Kind::Logoff);
        assert_eq!(Kind::of_codes(["110122"]), Kind::Logon);
        assert_eq!(Kind::of_codes(["110100", "110121"]), Kind::ApplicationStop);
        assert_eq!(Kind::of_codes(["110110"]), Kind::Record);
        assert_eq!(Kind::of_codes(["rest", "vread"]), Kind::Record);
    }

    #[test]
    fn record_kinds_take_the_action_verb() {
        let verb = action_verb("R");
        assert_eq!(
            Kind::Record.class_and_activity(verb),
            (Class::EhrActivity, "read")
        );
        assert_eq!(
            Kind::Record.class_and_activity(None),
            (Class::EhrActivity, "other")
        );
        assert_eq!(
            Kind::Logon.class_and_activity(verb),
            (Class::Authentication, "logon")
        );
    }

    #[test]
    fn outcomes_in_dicom_and_fhir_r5_spellings() {
        assert_eq!(outcome("0"), Some(Outcome::Success));
        assert_eq!(outcome("12"), Some(Outcome::Failure));
        assert_eq!(outcome("error"), Some(Outcome::Failure));
        assert_eq!(outcome("maybe"), None);
    }

    #[test]
    fn patient_numbers_drop_the_assigning_authority() {
        assert_eq!(
            patient_number("GE1118^^^DCM4CHEE.C920706B.nul"),
            Some("GE1118")
        );
        assert_eq!(patient_number("54321"), Some("54321"));
        assert_eq!(patient_number("<none>"), None);
        assert_eq!(patient_number("^^^JMS"), None);
    }

    #[test]
    fn network_points_by_type_and_by_shape() {
        let host = |h: &str| Some(NetworkPoint::Host(h.to_owned()));
        let ip = |i: &str| Some(NetworkPoint::Ip(i.to_owned()));
        assert_eq!(
            network_point("Workstation1.ehr.example.com", Some("1")),
            host("workstation1")
        );
        assert_eq!(network_point("127.0.0.1", Some("2")), ip("127.0.0.1"));
        assert_eq!(
            network_point("impax-host:8780", Some("1")),
            host("impax-host")
        );
        assert_eq!(network_point("555-0100", Some("3")), None);
        assert_eq!(
            network_point("http://user:secret@store.example:port/", Some("5")),
            host("store")
        );
        assert_eq!(
            network_point("urn:ipv6:2001:0db8:0:0:0:0:0:1", None),
            ip("2001:db8::1")
        );
        assert_eq!(
            network_point("http://[fe80::1]:8080/fhir", None),
            ip("fe80::1")
        );
        assert_eq!(network_point("Watchers Accounting Application", None), None);
    }
}
