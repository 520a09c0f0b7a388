//! Windows events, and their NXLog `im_msvistalog` JSON lines.
//!
//! The constructors take what an event is about and fill the event data as Windows does,
//! with the field names of the Security, System and Sysmon schemas. [`to_line`] adds what
//! the collector adds: the common header, the record number, the local `EventTime`, the
//! collector's `@timestamp`, and `TimeCreated`, the event's own time in UTC, which ward's
//! normalizer prefers to the collector's clock.
//!
//! Time: `EventTime` and `EventReceivedTime` are local time without a zone, as NXLog writes
//! them; the hospital's clocks run on US Eastern standard time (UTC-5).

use chrono::{DateTime, TimeDelta, Utc};
use fastrand::Rng;
use serde_json::{Value, json};

use super::hospital::{Host, NETBIOS_DOMAIN};
use super::records::{Channel, Ordered, WinRecord, ephemeral_port, guid};

/// Offset of the hospital's local time from UTC.
const LOCAL_OFFSET_HOURS: i64 = -5;

/// A successful logon (4624).
pub(super) struct Logon<'a> {
    /// The host logged on to.
    pub host: &'a Host,
    /// The account that logged on.
    pub user: &'a str,
    /// 2 interactive, 3 network, 11 cached interactive.
    pub logon_type: u8,
    /// For network logons, the host the logon came from; `None` for local logons.
    pub from: Option<&'a Host>,
    /// `Negotiate` (interactive), `NTLM` or `Kerberos`.
    pub package: &'static str,
    /// The new session's logon id, as [`logon_id`] makes them.
    pub logon_id: &'a str,
}

/// A process start as Sysmon logs it (event 1).
pub(super) struct Process<'a> {
    /// The account it runs as, `DOMAIN\name`.
    pub user: &'a str,
    /// Full path of the executable.
    pub image: &'a str,
    /// Its command line.
    pub command_line: &'a str,
    /// Full path of the parent's executable.
    pub parent_image: &'a str,
    /// `Medium` for users, `High` for elevated, `System` for services.
    pub integrity: &'static str,
}

/// A network connection as Sysmon logs it (event 3).
pub(super) struct Connection<'a> {
    /// The account of the process, `DOMAIN\name`.
    pub user: &'a str,
    /// Full path of the process's executable.
    pub image: &'a str,
    /// Local address and port: Sysmon's source for outbound connections.
    pub source: (&'a str, u16),
    /// Remote address and port.
    pub destination: (&'a str, u16),
    /// The remote host's name when it is one of the hospital's.
    pub destination_name: Option<&'a Host>,
}

/// A new logon id, as Windows writes it in event data (`0x3e7a21`).
pub(super) fn logon_id(rng: &mut Rng) -> String {
    format!("0x{:x}", rng.u32(0x10_0000..0x0fff_ffff))
}

/// `DOMAIN\name` for a domain account.
pub(super) fn qualified(user: &str) -> String {
    format!("{NETBIOS_DOMAIN}\\{user}")
}

/// 4624: an account logged on.
pub(super) fn logon(rng: &mut Rng, time: DateTime<Utc>, logon: &Logon<'_>) -> WinRecord {
    let (ip, port, workstation) = match logon.from {
        Some(from) => {
            // Kerberos network logons do not carry the client's workstation name; NTLM does.
            let name = if logon.package == "Kerberos" {
                "-".to_owned()
            } else {
                from.netbios()
            };
            (from.ip.clone(), ephemeral_port(rng).to_string(), name)
        }
        None => ("127.0.0.1".to_owned(), "0".to_owned(), logon.host.netbios()),
    };
    let process = match logon.logon_type {
        2 | 11 => "C:\\Windows\\System32\\svchost.exe",
        _ => "-",
    };
    let logon_process = match logon.package {
        "NTLM" => "NtLmSsp ",
        "Kerberos" => "Kerberos",
        _ => "User32 ",
    };
    let data = vec![
        ("SubjectUserSid", json!("S-1-5-18")),
        (
            "SubjectUserName",
            json!(format!("{}$", logon.host.netbios())),
        ),
        ("SubjectDomainName", json!(NETBIOS_DOMAIN)),
        ("TargetUserName", json!(logon.user)),
        ("TargetDomainName", json!(NETBIOS_DOMAIN)),
        ("TargetLogonId", json!(logon.logon_id)),
        ("LogonType", json!(logon.logon_type.to_string())),
        ("LogonProcessName", json!(logon_process)),
        ("AuthenticationPackageName", json!(logon.package)),
        ("WorkstationName", json!(workstation)),
        ("ProcessName", json!(process)),
        ("IpAddress", json!(ip)),
        ("IpPort", json!(port)),
    ];
    security(time, logon.host, 4624, data)
}

/// 4625: an interactive logon failed on a bad password.
pub(super) fn failed_logon(time: DateTime<Utc>, host: &Host, user: &str) -> WinRecord {
    let data = vec![
        ("SubjectUserSid", json!("S-1-5-18")),
        ("TargetUserName", json!(user)),
        ("TargetDomainName", json!(NETBIOS_DOMAIN)),
        ("Status", json!("0xc000006d")),
        ("FailureReason", json!("%%2313")),
        ("SubStatus", json!("0xc000006a")),
        ("LogonType", json!("2")),
        ("LogonProcessName", json!("User32 ")),
        ("AuthenticationPackageName", json!("Negotiate")),
        ("WorkstationName", json!(host.netbios())),
        ("ProcessName", json!("C:\\Windows\\System32\\svchost.exe")),
        ("IpAddress", json!("127.0.0.1")),
        ("IpPort", json!("0")),
    ];
    let mut record = security(time, host, 4625, data);
    record.failure = true;
    record
}

/// 4634: a logon session ended.
pub(super) fn logoff(time: DateTime<Utc>, host: &Host, user: &str, id: &str) -> WinRecord {
    let data = vec![
        ("TargetUserName", json!(user)),
        ("TargetDomainName", json!(NETBIOS_DOMAIN)),
        ("TargetLogonId", json!(id)),
        ("LogonType", json!("2")),
    ];
    security(time, host, 4634, data)
}

/// 4672: administrative privileges were assigned to a new logon.
pub(super) fn special_privileges(
    time: DateTime<Utc>,
    host: &Host,
    user: &str,
    id: &str,
) -> WinRecord {
    let data = vec![
        ("SubjectUserName", json!(user)),
        ("SubjectDomainName", json!(NETBIOS_DOMAIN)),
        ("SubjectLogonId", json!(id)),
        (
            "PrivilegeList",
            json!(concat!(
                "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\t",
                "SeRestorePrivilege\r\n\t\t\tSeDebugPrivilege"
            )),
        ),
    ];
    security(time, host, 4672, data)
}

/// 4648: a process on `host` used another account's credentials to reach `server`.
pub(super) fn explicit_credentials(
    time: DateTime<Utc>,
    host: &Host,
    (subject, target): (&str, &str),
    server: &Host,
    process: &str,
) -> WinRecord {
    let data = vec![
        ("SubjectUserName", json!(subject)),
        ("SubjectDomainName", json!(NETBIOS_DOMAIN)),
        ("TargetUserName", json!(target)),
        ("TargetDomainName", json!(NETBIOS_DOMAIN)),
        ("TargetServerName", json!(server.netbios())),
        ("TargetInfo", json!(server.netbios())),
        ("ProcessName", json!(process)),
        ("IpAddress", json!(server.ip)),
        ("IpPort", json!("445")),
    ];
    security(time, host, 4648, data)
}

/// 4768 (ticket-granting ticket) or 4769 (service ticket) on a domain controller.
pub(super) fn kerberos(
    rng: &mut Rng,
    time: DateTime<Utc>,
    dc: &Host,
    (id, service): (u32, &str),
    (user, client): (&str, &Host),
) -> WinRecord {
    let data = vec![
        ("TargetUserName", json!(user)),
        ("TargetDomainName", json!(NETBIOS_DOMAIN)),
        ("ServiceName", json!(service)),
        ("TicketOptions", json!("0x40810010")),
        ("Status", json!("0x0")),
        ("TicketEncryptionType", json!("0x12")),
        ("IpAddress", json!(format!("::ffff:{}", client.ip))),
        ("IpPort", json!(ephemeral_port(rng).to_string())),
    ];
    security(time, dc, id, data)
}

/// 5140 (a share was opened) or, with a target, 5145 (an object in it was checked).
pub(super) fn share(
    time: DateTime<Utc>,
    host: &Host,
    (user, id): (&str, &str),
    from: (&Host, u16),
    (share, target): (&str, Option<&str>),
) -> WinRecord {
    let local_path = if share == "ADMIN$" {
        "\\??\\C:\\Windows"
    } else {
        ""
    };
    let mut data = vec![
        ("SubjectUserName", json!(user)),
        ("SubjectDomainName", json!(NETBIOS_DOMAIN)),
        ("SubjectLogonId", json!(id)),
        ("ObjectType", json!("File")),
        ("IpAddress", json!(from.0.ip)),
        ("IpPort", json!(from.1.to_string())),
        ("ShareName", json!(format!("\\\\*\\{share}"))),
        ("ShareLocalPath", json!(local_path)),
        ("AccessMask", json!("0x1")),
    ];
    let event = match target {
        Some(target) => {
            data.push(("RelativeTargetName", json!(target)));
            5145
        }
        None => 5140,
    };
    security(time, host, event, data)
}

/// 7045: a service was installed; `user` is the installing account.
pub(super) fn service_install(
    time: DateTime<Utc>,
    host: &Host,
    user: &str,
    (name, image_path): (&str, &str),
) -> WinRecord {
    let data = vec![
        ("ServiceName", json!(name)),
        ("ImagePath", json!(image_path)),
        ("ServiceType", json!("user mode service")),
        ("StartType", json!("demand start")),
        ("ServiceAccount", json!("LocalSystem")),
        ("AccountName", json!(user)),
        ("Domain", json!(NETBIOS_DOMAIN)),
    ];
    record(time, host, Channel::System, 7045, data)
}

/// Sysmon 1: a process started; its `UtcTime` is stamped by the host's clock in
/// [`to_line`].
pub(super) fn process(
    rng: &mut Rng,
    time: DateTime<Utc>,
    host: &Host,
    p: &Process<'_>,
) -> WinRecord {
    let data = vec![
        ("RuleName", json!("-")),
        ("UtcTime", json!(sysmon_time(time))),
        ("ProcessGuid", json!(process_guid(rng))),
        ("ProcessId", json!(rng.u32(1000..20000).to_string())),
        ("Image", json!(p.image)),
        ("CommandLine", json!(p.command_line)),
        ("CurrentDirectory", json!("C:\\Windows\\system32\\")),
        ("User", json!(p.user)),
        ("LogonId", json!(logon_id(rng))),
        ("IntegrityLevel", json!(p.integrity)),
        ("ParentProcessGuid", json!(process_guid(rng))),
        ("ParentProcessId", json!(rng.u32(500..20000).to_string())),
        ("ParentImage", json!(p.parent_image)),
    ];
    record(time, host, Channel::Sysmon, 1, data)
}

/// Sysmon 3: a process opened an outbound TCP connection.
pub(super) fn connection(
    rng: &mut Rng,
    time: DateTime<Utc>,
    host: &Host,
    c: &Connection<'_>,
) -> WinRecord {
    let destination_name = c.destination_name.map_or("-".to_owned(), Host::computer);
    let data = vec![
        ("RuleName", json!("-")),
        ("UtcTime", json!(sysmon_time(time))),
        ("ProcessGuid", json!(process_guid(rng))),
        ("ProcessId", json!(rng.u32(1000..20000).to_string())),
        ("Image", json!(c.image)),
        ("User", json!(c.user)),
        ("Protocol", json!("tcp")),
        ("Initiated", json!("true")),
        ("SourceIsIpv6", json!("false")),
        ("SourceIp", json!(c.source.0)),
        ("SourceHostname", json!(host.computer())),
        ("SourcePort", json!(c.source.1.to_string())),
        ("DestinationIsIpv6", json!("false")),
        ("DestinationIp", json!(c.destination.0)),
        ("DestinationHostname", json!(destination_name)),
        ("DestinationPort", json!(c.destination.1.to_string())),
    ];
    record(time, host, Channel::Sysmon, 3, data)
}

/// The NXLog JSON line of `record`, the `number`th of its host's channel, on a host whose
/// clock is off by `skew` (positive: ahead), collected `delay` after it happened.
///
/// The host's clock stamps the event (`UtcTime`, `TimeCreated`, `EventTime`); the
/// collector's stamps its receipt (`EventReceivedTime`, `@timestamp`).
pub(super) fn to_line(
    record: &WinRecord,
    number: u64,
    skew: TimeDelta,
    delay: TimeDelta,
) -> String {
    let (source, provider, keywords, event_type) = match (record.channel, record.failure) {
        (Channel::Security, false) => (
            SECURITY_SOURCE,
            SECURITY_GUID,
            AUDIT_SUCCESS,
            "AUDIT_SUCCESS",
        ),
        (Channel::Security, true) => (
            SECURITY_SOURCE,
            SECURITY_GUID,
            AUDIT_FAILURE,
            "AUDIT_FAILURE",
        ),
        (Channel::System, _) => ("Service Control Manager", SCM_GUID, CLASSIC, "INFO"),
        (Channel::Sysmon, _) => (
            "Microsoft-Windows-Sysmon",
            SYSMON_GUID,
            SYSMON_KEYWORDS,
            "INFO",
        ),
    };
    let channel = match record.channel {
        Channel::Security => "Security",
        Channel::System => "System",
        Channel::Sysmon => "Microsoft-Windows-Sysmon/Operational",
    };
    let stamped = record.time + skew;
    let received = record.time + delay;
    let mut fields: Vec<(&'static str, Value)> = vec![
        ("EventTime", json!(local_time(stamped))),
        ("Hostname", json!(record.computer)),
        ("Keywords", json!(keywords)),
        ("EventType", json!(event_type)),
        ("SeverityValue", json!(2)),
        ("Severity", json!("INFO")),
        ("EventID", json!(record.id)),
        ("SourceName", json!(source)),
        ("ProviderGuid", json!(provider)),
        ("Channel", json!(channel)),
        ("RecordNumber", json!(number)),
        ("Opcode", json!("Info")),
    ];
    fields.extend(record.data.iter().map(|(key, value)| match *key {
        "UtcTime" => (*key, json!(sysmon_time(stamped))),
        _ => (*key, value.clone()),
    }));
    fields.extend([
        (
            "TimeCreated",
            json!(stamped.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        ),
        ("EventReceivedTime", json!(local_time(received))),
        ("SourceModuleName", json!("eventlog")),
        ("SourceModuleType", json!("im_msvistalog")),
        (
            "@timestamp",
            json!(received.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        ),
    ]);
    serde_json::to_string(&Ordered(&fields)).expect("string keys and JSON values always serialize")
}

const SECURITY_SOURCE: &str = "Microsoft-Windows-Security-Auditing";
const SECURITY_GUID: &str = "{54849625-5478-4994-A5BA-3E3B0328C30D}";
const SYSMON_GUID: &str = "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}";
const SCM_GUID: &str = "{555908D1-A6D7-4695-8E1E-26931D2012F4}";
/// Keywords as NXLog writes them, signed: audit success, audit failure, the classic
/// event log's bit, and Sysmon's.
const AUDIT_SUCCESS: i64 = -9_214_364_837_600_034_816;
const AUDIT_FAILURE: i64 = -9_218_868_437_227_405_312;
const CLASSIC: i64 = -9_187_343_239_835_811_840;
const SYSMON_KEYWORDS: i64 = i64::MIN;

fn security(
    time: DateTime<Utc>,
    host: &Host,
    id: u32,
    data: Vec<(&'static str, Value)>,
) -> WinRecord {
    record(time, host, Channel::Security, id, data)
}

fn record(
    time: DateTime<Utc>,
    host: &Host,
    channel: Channel,
    id: u32,
    data: Vec<(&'static str, Value)>,
) -> WinRecord {
    WinRecord {
        time,
        computer: host.computer(),
        channel,
        id,
        failure: false,
        data,
    }
}

/// A Sysmon process GUID: lowercase, in braces.
fn process_guid(rng: &mut Rng) -> String {
    format!("{{{}}}", guid(rng, false))
}

/// Sysmon's `UtcTime`: UTC, millisecond precision, no zone.
fn sysmon_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// NXLog's zone-less local time.
fn local_time(time: DateTime<Utc>) -> String {
    (time + TimeDelta::hours(LOCAL_OFFSET_HOURS))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
