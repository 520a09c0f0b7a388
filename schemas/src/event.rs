//! One normalized event.
//!
//! An [`Event`] is the flat, source-independent form of one record. Every column is
//! optional except the identity and provenance columns, because no source fills all of
//! them: a Zeek conn record has no user, an EHR access has no port. Absent values stay
//! `None` (null in Arrow, omitted in JSON) rather than an empty string, so SQL can tell
//! "not reported" from "reported empty".

use serde::Serialize;

use crate::{Class, EventId, Outcome, Severity, SourceKind, Timestamp};

/// One normalized event, as it is written to the lake's `events` table.
///
/// Field names are the column names; [`crate::columns`] documents each column for SQL
/// users and holds the Arrow schema built from this struct.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Deterministic id derived from `raw`; the same record always gets the same id.
    pub event_id: EventId,
    /// When the event happened, from the sensor's own clock (UTC).
    pub time: Timestamp,
    /// When a collector saw the event, if the record says; collector clocks are suspect
    /// and never replace `time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_time: Option<Timestamp>,
    /// Which family of sensor produced the record.
    pub source_kind: SourceKind,
    /// The wire format the record was read in, such as `windows-evtx-json` or `zeek-tsv`.
    pub source_format: &'static str,
    /// OCSF-aligned event class.
    pub class: Class,
    /// What happened within the class, in lowercase snake case (`logon`, `launch`, `read`).
    pub activity: String,
    /// The source's own code for the event: Windows event id, Zeek log path, DICOM or FHIR
    /// event type code, Suricata signature id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_code: Option<String>,
    /// The host that recorded the event, lowercase short name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The DNS domain of `host`, lowercase, when the record names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_domain: Option<String>,
    /// The initiating host (workstation of a logon, client of a connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_host: Option<String>,
    /// The initiating IP address, as text (IPv4 dotted or IPv6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    /// The initiating port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// The target host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_host: Option<String>,
    /// The target IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<String>,
    /// The target port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// Transport or application protocol, lowercase (`tcp`, `udp`, `smb`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The acting account, lowercase short name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The domain of `user`, lowercase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_domain: Option<String>,
    /// Windows logon type (2 interactive, 3 network, 10 remote interactive, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logon_type: Option<i32>,
    /// Windows logon session id, as logged (`0x4b0ad12`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logon_id: Option<String>,
    /// Executable file name of the acting process, lowercase (`powershell.exe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_name: Option<String>,
    /// Full path of the acting process, as logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_path: Option<String>,
    /// Command line of the acting process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// Executable file name of the parent process, lowercase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_process_name: Option<String>,
    /// Service name for service installs and changes, scheduled task name for tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// SMB share as logged, normalized to upper case without the host (`ADMIN$`, `IPC$`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_name: Option<String>,
    /// What was opened on the share: a relative file path or a named pipe (`svcctl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_target: Option<String>,
    /// File or registry path the event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// The patient whose record was touched (MRN or FHIR id). PHI: never logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// What was done to the record: `create`, `read`, `update`, `delete`, `execute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ehr_action: Option<String>,
    /// What part of the record: a FHIR resource type, a DICOM object, an EHR activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ehr_resource: Option<String>,
    /// Why the user says they accessed it (HL7 v3 ActReason code such as `TREAT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose_of_use: Option<String>,
    /// Whether the access was an emergency override of normal access control.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<bool>,
    /// Whether the action succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// How much the sensor thinks the event matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Name of a detection the sensor itself raised (Suricata signature, Zeek notice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Where the record came from: `file:LINE` for files, `topic/partition/offset` for
    /// Kafka. An audit record that cannot be traced to its source is not evidence.
    pub provenance: String,
    /// The original record, byte for byte as received (minus the line terminator).
    pub raw: String,
}

impl Event {
    /// An event with identity, time, classification and provenance set, every other column
    /// empty. Normalizers start here and fill in what their source reports.
    pub fn new(
        origin: Origin<'_>,
        time: Timestamp,
        class: Class,
        activity: impl Into<String>,
    ) -> Self {
        Event {
            event_id: EventId::of_record(origin.raw.as_bytes()),
            time,
            observed_time: None,
            source_kind: origin.kind,
            source_format: origin.format,
            class,
            activity: activity.into(),
            event_code: None,
            host: None,
            host_domain: None,
            src_host: None,
            src_ip: None,
            src_port: None,
            dst_host: None,
            dst_ip: None,
            dst_port: None,
            protocol: None,
            user: None,
            user_domain: None,
            logon_type: None,
            logon_id: None,
            process_name: None,
            process_path: None,
            command_line: None,
            parent_process_name: None,
            service_name: None,
            share_name: None,
            share_target: None,
            file_path: None,
            patient_id: None,
            ehr_action: None,
            ehr_resource: None,
            purpose_of_use: None,
            break_glass: None,
            outcome: None,
            severity: None,
            signature: None,
            provenance: origin.provenance.to_owned(),
            raw: origin.raw.to_owned(),
        }
    }

    /// Sets `host` and `host_domain` from a name as the sensor logged it.
    pub fn set_host(&mut self, logged: &str) {
        if let Some(name) = crate::names::HostName::parse(logged) {
            self.host = Some(name.host);
            self.host_domain = name.domain;
        }
    }

    /// Sets `user` and `user_domain` from an account name and an optional separate domain.
    pub fn set_user(&mut self, logged: &str, domain: Option<&str>) {
        if let Some(name) = crate::names::UserName::parse(logged, domain) {
            self.user = Some(name.user);
            self.user_domain = name.domain;
        }
    }
}

/// What every event of one record shares: its bytes, where it came from and how it was
/// read. Passed to [`Event::new`].
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The original record.
    pub raw: &'a str,
    /// `file:LINE` or `topic/partition/offset`.
    pub provenance: &'a str,
    /// Family of the sensor.
    pub kind: SourceKind,
    /// Wire format name.
    pub format: &'static str,
}
