//! What happened, as typed records.
//!
//! The background and the attack describe activity as these records and push them into
//! one [`Logs`]; the writers sort each kind by time and format it into its wire format
//! only at the end. Keeping the two apart means the activity code never deals with JSON
//! keys or timestamp shapes, and the per-file details that depend on the final order
//! (record numbers, collector delays, Zeek uids) are assigned once, in that order.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use fastrand::Rng;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// Everything one scenario emitted, per sensor, in the order it was emitted.
#[derive(Debug, Default)]
pub(super) struct Logs {
    /// Windows Security, System and Sysmon events.
    pub windows: Vec<WinRecord>,
    /// Connections the network sensor saw.
    pub conns: Vec<Conn>,
    /// Accesses to patients' records, whichever EHR audit log they reach.
    pub ehr: Vec<EhrAccess>,
}

/// The Windows event log a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Channel {
    /// `Security`: logons, Kerberos, share access.
    Security,
    /// `System`: the service control manager.
    System,
    /// `Microsoft-Windows-Sysmon/Operational`.
    Sysmon,
}

impl Channel {
    /// The short name used in truth event kinds.
    pub fn short(self) -> &'static str {
        match self {
            Channel::Security => "security",
            Channel::System => "system",
            Channel::Sysmon => "sysmon",
        }
    }
}

/// One Windows event: where and when, and its event data in the order Windows logs it.
#[derive(Debug, Clone)]
pub(super) struct WinRecord {
    /// When the event happened, by the host's own clock.
    pub time: DateTime<Utc>,
    /// The machine that logged it, as Windows writes it (`WS-ICU-017.nvh.local`).
    pub computer: String,
    /// Its event log.
    pub channel: Channel,
    /// Its event id.
    pub id: u32,
    /// Whether the Security log records it as an audit failure.
    pub failure: bool,
    /// Event data fields, written in this order after the common ones.
    pub data: Vec<(&'static str, Value)>,
}

impl WinRecord {
    /// The record's kind as the truth file counts it, such as `edr security 4624`.
    pub fn kind(&self) -> String {
        format!("edr {} {}", self.channel.short(), self.id)
    }
}

/// Transport protocol of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One connection as Zeek's conn log reports it when the connection ends.
#[derive(Debug, Clone)]
pub(super) struct Conn {
    /// The first packet, by the true clock; the sensor's skew is applied when written.
    pub time: DateTime<Utc>,
    /// From first to last packet.
    pub duration: TimeDelta,
    /// Originator address and port.
    pub orig: (String, u16),
    /// Responder address and port.
    pub resp: (String, u16),
    /// Transport.
    pub proto: Proto,
    /// Application protocols Zeek recognized, as it names them (`krb_tcp`, `smb`).
    pub service: Option<&'static str>,
    /// Payload bytes sent by the originator.
    pub orig_bytes: u64,
    /// Payload bytes sent by the responder.
    pub resp_bytes: u64,
    /// Whether the responder is inside the hospital.
    pub local_resp: bool,
}

impl Conn {
    /// The record's kind as the truth file counts it, such as `ndr conn 445/tcp`.
    pub fn kind(&self) -> String {
        format!("ndr conn {}/{}", self.resp.1, self.proto)
    }
}

/// The EHR audit log an access reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EhrLog {
    /// The FHIR server's AuditEvents (`ehr/fhir-audit.jsonl`).
    Fhir,
    /// The access-log export shaped like Epic Clarity's (`ehr/access-log.csv`).
    AccessLog,
}

/// What a clinician did to a patient's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EhrAction {
    /// Opened the chart (FHIR `read` of the Patient).
    ReadChart,
    /// Looked at results (FHIR `vread` of an Observation).
    ReadResults,
    /// Charted a measurement (FHIR `update` of an Observation).
    UpdateFlowsheet,
    /// Ordered a medication (FHIR `create` of a MedicationRequest).
    OrderMedication,
}

impl EhrAction {
    /// The verb ward's normalizer derives from the action, for truth event kinds.
    pub fn verb(self) -> &'static str {
        match self {
            EhrAction::ReadChart | EhrAction::ReadResults => "read",
            EhrAction::UpdateFlowsheet => "update",
            EhrAction::OrderMedication => "create",
        }
    }
}

/// One access to one patient's record.
#[derive(Debug, Clone)]
pub(super) struct EhrAccess {
    /// When the EHR recorded it.
    pub time: DateTime<Utc>,
    /// The account that acted.
    pub user: String,
    /// The workstation the account used, as a short host name.
    pub workstation: String,
    /// The patient's medical record number.
    pub patient: String,
    /// What was done.
    pub action: EhrAction,
    /// Which audit log records it.
    pub log: EhrLog,
    /// The user's department, which the access log carries.
    pub department: &'static str,
}

impl EhrAccess {
    /// The record's kind as the truth file counts it, such as `ehr fhir read`.
    pub fn kind(&self) -> String {
        let log = match self.log {
            EhrLog::Fhir => "fhir",
            EhrLog::AccessLog => "access-log",
        };
        format!("ehr {log} {}", self.action.verb())
    }
}

/// A JSON object whose keys are written in the order given.
///
/// `serde_json::Map` sorts its keys in this build, which would scatter a Windows event's
/// fields; sensors write them in a fixed, meaningful order and so does the generator.
pub(super) struct Ordered<'a>(pub &'a [(&'static str, Value)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A random span between `min` and `max` milliseconds, inclusive.
pub(super) fn millis(rng: &mut Rng, min: i64, max: i64) -> TimeDelta {
    TimeDelta::milliseconds(rng.i64(min..=max))
}

/// A random span between `min` and `max` seconds, inclusive, with millisecond precision.
pub(super) fn seconds(rng: &mut Rng, min: i64, max: i64) -> TimeDelta {
    millis(rng, min * 1000, max * 1000)
}

/// A random ephemeral port, as Windows allocates them.
pub(super) fn ephemeral_port(rng: &mut Rng) -> u16 {
    rng.u16(49152..=65535)
}

/// `count` random hex digits, uppercase or lowercase.
pub(super) fn hex(rng: &mut Rng, count: usize, upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    (0..count)
        .map(|_| char::from(digits[rng.usize(..16)]))
        .collect()
}

/// A random GUID in the 8-4-4-4-12 form, without braces.
pub(super) fn guid(rng: &mut Rng, upper: bool) -> String {
    let parts: Vec<String> = [8, 4, 4, 4, 12]
        .iter()
        .map(|&n| hex(rng, n, upper))
        .collect();
    parts.join("-")
}
