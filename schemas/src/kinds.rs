//! The closed vocabularies of the schema.
//!
//! Each is stored in the lake as its lowercase snake-case name (`as_str`), so SQL filters
//! read as words (`WHERE class = 'authentication'`). Class names follow OCSF where OCSF
//! has a class for the activity; the few that OCSF lacks are marked below.

use std::fmt;

use serde::Serialize;

/// Which family of sensor produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Endpoint: Windows Security, Sysmon, System, PowerShell, WMI logs.
    Edr,
    /// Network: Zeek and Suricata.
    Ndr,
    /// EHR and PACS audit trails: FHIR AuditEvent, DICOM/ATNA, EHR access logs.
    Ehr,
}

impl SourceKind {
    /// The name stored in the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Edr => "edr",
            SourceKind::Ndr => "ndr",
            SourceKind::Ehr => "ehr",
        }
    }
}

/// The event class, aligned with OCSF class names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// OCSF 3002: logons, logoffs, explicit credentials, Kerberos and NTLM, EHR log-ins.
    Authentication,
    /// OCSF 3001: accounts created, changed, enabled, deleted.
    AccountChange,
    /// OCSF 1007: processes launched, terminated, opened or injected into.
    ProcessActivity,
    /// OCSF 1001: files created, deleted or read on an endpoint.
    FileActivity,
    /// OCSF 1005: modules (DLLs) loaded.
    ModuleActivity,
    /// OCSF 201001/201002 (Windows extension): registry keys and values.
    RegistryActivity,
    /// OCSF 1006: scheduled tasks created, changed, run or deleted.
    ScheduledJobActivity,
    /// Not in OCSF: Windows services installed or reconfigured.
    ServiceActivity,
    /// OCSF 1009: PowerShell and other script execution.
    ScriptActivity,
    /// Not in OCSF: WMI operations, subscriptions and remote WMI execution.
    WmiActivity,
    /// OCSF 1008: event logs cleared or their auditing changed.
    EventLogActivity,
    /// OCSF 4001: connections and flows, and network logs with no class of their own.
    NetworkActivity,
    /// OCSF 4006: SMB share mapping and file or pipe access on a share.
    SmbActivity,
    /// OCSF 4005: RDP sessions.
    RdpActivity,
    /// Not in OCSF: DCE/RPC calls (service control, task scheduler, WMI over RPC).
    RpcActivity,
    /// OCSF 2004: a sensor's own detection, such as a Suricata alert or a Zeek notice.
    DetectionFinding,
    /// Not in OCSF: access to a patient's record in an EHR or PACS.
    EhrActivity,
    /// OCSF 6002: application lifecycle and other application events.
    ApplicationActivity,
    /// OCSF 0: a well-formed event that no class above describes; kept, never dropped.
    BaseEvent,
}

impl Class {
    /// Every class, in declaration order.
    pub const ALL: [Class; 19] = [
        Class::Authentication,
        Class::AccountChange,
        Class::ProcessActivity,
        Class::FileActivity,
        Class::ModuleActivity,
        Class::RegistryActivity,
        Class::ScheduledJobActivity,
        Class::ServiceActivity,
        Class::ScriptActivity,
        Class::WmiActivity,
        Class::EventLogActivity,
        Class::NetworkActivity,
        Class::SmbActivity,
        Class::RdpActivity,
        Class::RpcActivity,
        Class::DetectionFinding,
        Class::EhrActivity,
        Class::ApplicationActivity,
        Class::BaseEvent,
    ];

    /// The name stored in the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Authentication => "authentication",
            Class::AccountChange => "account_change",
            Class::ProcessActivity => "process_activity",
            Class::FileActivity => "file_activity",
            Class::ModuleActivity => "module_activity",
            Class::RegistryActivity => "registry_activity",
            Class::ScheduledJobActivity => "scheduled_job_activity",
            Class::ServiceActivity => "service_activity",
            Class::ScriptActivity => "script_activity",
            Class::WmiActivity => "wmi_activity",
            Class::EventLogActivity => "event_log_activity",
            Class::NetworkActivity => "network_activity",
            Class::SmbActivity => "smb_activity",
            Class::RdpActivity => "rdp_activity",
            Class::RpcActivity => "rpc_activity",
            Class::DetectionFinding => "detection_finding",
            Class::EhrActivity => "ehr_activity",
            Class::ApplicationActivity => "application_activity",
            Class::BaseEvent => "base_event",
        }
    }
}

/// Whether the action the event describes succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It was attempted and failed or was denied.
    Failure,
}

impl Outcome {
    /// The name stored in the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// How much the sensor thinks an event matters, on OCSF's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Routine.
    Informational,
    /// Worth a look.
    Low,
    /// Likely matters.
    Medium,
    /// Act soon.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// The name stored in the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(SourceKind, Class, Outcome, Severity);

macro_rules! from_name {
    ($($ty:ty => [$($variant:expr),* $(,)?]),* $(,)?) => {$(
        impl $ty {
            /// The value stored under `name` in the lake, if `name` is one.
            pub fn from_name(name: &str) -> Option<Self> {
                [$($variant),*].into_iter().find(|value| value.as_str() == name)
            }
        }
    )*};
}

from_name!(
    SourceKind => [SourceKind::Edr, SourceKind::Ndr, SourceKind::Ehr],
    Outcome => [Outcome::Success, Outcome::Failure],
    Severity => [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ],
);

impl Class {
    /// The class stored under `name` in the lake, if `name` is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Class::ALL.into_iter().find(|class| class.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_match_lake_names() {
        for class in Class::ALL {
            let json = serde_json::to_string(&class).expect("a class serializes");
            assert_eq!(json, format!("\"{}\"", class.as_str()));
        }
        assert_eq!(serde_json::to_string(&SourceKind::Ndr).unwrap(), "\"ndr\"");
        assert_eq!(serde_json::to_string(&Severity::High).unwrap(), "\"high\"");
    }

    #[test]
    fn names_read_back() {
        for class in Class::ALL {
            assert_eq!(Class::from_name(class.as_str()), Some(class));
        }
        assert_eq!(Severity::from_name("critical"), Some(Severity::Critical));
        assert_eq!(SourceKind::from_name("ehr"), Some(SourceKind::Ehr));
        assert_eq!(Outcome::from_name("failure"), Some(Outcome::Failure));
        assert_eq!(Severity::from_name("High"), None);
    }
}
