//! Zeek logs, as JSON or TSV, to events.
//!
//! Three JSON dialects reach ward, and all read the same:
//! - `_path` names the log, keys are dotted (`id.orig_h`), `ts` is ISO 8601 (Brim and Zed
//!   exports);
//! - `@stream` names the log, keys use underscores (`id_orig_h`), `ts` is epoch seconds and
//!   `@system` names the sensor (log shippers);
//! - Zeek's own JSON: dotted keys, epoch `ts` and no log name in the record. The name then
//!   comes from the file name ([`Hint::ZeekPath`]) and, failing that, from the record's
//!   shape: a `conn_state` makes a conn record, an `endpoint` with an `operation` a dce_rpc
//!   call, and so on (`infer_log`). A record of no recognizable shape is still kept, as
//!   network activity `unknown`.
//!
//! Nested `"id": {"orig_h": ...}` objects are read too. A TSV row is read against its
//! file's `#fields` header. Both containers go through one `Fields` trait, so the mapping
//! of each log is written once.
//!
//! Every event has `event_code` = the log name, `src_ip`/`src_port` = `id.orig_h`/`_p`,
//! `dst_ip`/`dst_port` = `id.resp_h`/`_p`, `protocol` = `proto` lowercased, `host` = the
//! sensor (`@system` or `_system_name`) and `observed_time` = `_write_ts`, or else the
//! transport's receive time.
//! Per log:
//!
//! | log | class | activity | also |
//! |---|---|---|---|
//! | conn | network_activity | `traffic` | |
//! | smb_mapping | smb_activity | `share_map` | `share_name`, `dst_host` from `path` |
//! | smb_files | smb_activity | `action` (`file_open`) | `share_target`, `file_path` |
//! | dce_rpc | rpc_activity | `operation` lowercased | `service_name`, `share_target` |
//! | rdp | rdp_activity | `connect` | `user` from `cookie`, `outcome` from `result` |
//! | ntlm | authentication | `logon` | user, domain, hosts, `outcome` |
//! | kerberos | authentication | `ticket_request` (AS), `service_ticket_request` (TGS) | |
//! | notice | detection_finding | `notice` | `signature` = `note`, severity medium |
//! | any other | network_activity | the log name (`dns`, `x509`) | |
//!
//! Choices a query writer should know:
//! - `protocol` is the application protocol for the logs that imply one (`smb`, `dce_rpc`,
//!   `rdp`, `ntlm`, `kerberos`) and the transport (`tcp`, `udp`) otherwise.
//! - dce_rpc: the remote interface called (`svcctl`, `ITaskSchedulerService`) is the
//!   service being used, so it goes in `service_name`; the operation (`CreateServiceW`) is
//!   what was done, so it is the activity, lowercased (`createservicew`), with any
//!   character other than a letter, digit or `_` made `_`. The named pipe, without its
//!   `\pipe\` prefix, goes in `share_target` as for smb_files; a `named_pipe` that is a
//!   TCP port number (RPC over TCP) is no pipe and is left out.
//! - rdp: success means the connection was set up (`Success`, `encrypted`), not that a
//!   logon succeeded, which Zeek cannot see; refusals by the server are failures.
//! - kerberos: the user and realm come from `client`, which Zeek writes as `name/REALM`;
//!   `/NM` (no name) is no user. `service` goes in `service_name`. A record without a
//!   request type (Zeek logs some for TCP connections it could not parse) has the activity
//!   `request`.
//! - smb_mapping and smb_files: a server named by IP address in `path` is no host name, so
//!   `dst_host` stays empty and the address is in `dst_ip` as for every connection.
//! - A missing `ts` is [`NormalizeError::MissingField`], an unreadable one
//!   [`NormalizeError::InvalidField`]; an unreadable `_write_ts` is only ignored, since
//!   `observed_time` is optional.
//! - TSV values are decoded from Zeek's `\xHH` escapes. A raw backslash followed by `x` and
//!   two hex digits would be decoded too; Zeek escapes what it must, so this is rare.
//!   Set-valued fields (`tx_hosts`, `tunnel_parents`) are not mapped.

use std::borrow::Cow;
use std::net::IpAddr;

use ward_schemas::event::Origin;
use ward_schemas::names::HostName;
use ward_schemas::{Class, Event, Outcome, Severity, Timestamp};

use crate::json::{Object, Value};
use crate::record::{Hint, Record, ZeekTsvHeader};
use crate::{Format, NormalizeError, timefmt};

/// Normalizes one Zeek JSON record, in any of the three dialects.
pub(crate) fn normalize_json(
    object: &Object<'_>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    let fields = JsonFields(object);
    let origin = super::origin(record, Format::ZeekJson)?;

    let hinted = match record.hint {
        Hint::ZeekPath(path) => Some(Cow::Borrowed(&**path)),
        _ => None,
    };
    let named = fields
        .text("_path")
        .or_else(|| fields.text("@stream"))
        .or(hinted);

    let event = map(&fields, named.as_deref(), origin, record, Format::ZeekJson)?;
    out.push(event);
    Ok(())
}

/// Normalizes one data row of a Zeek TSV log, read against its file's header.
pub(crate) fn normalize_tsv(
    header: &ZeekTsvHeader,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    let origin = super::origin(record, Format::ZeekTsv)?;
    let fields = TsvFields::split(header, origin.raw)?;
    let event = map(
        &fields,
        header.path.as_deref(),
        origin,
        record,
        Format::ZeekTsv,
    )?;
    out.push(event);
    Ok(())
}

/// Read access to one record's fields by their Zeek names (`id.orig_h`), whichever
/// container the record came in.
trait Fields {
    /// The field as text; `None` when it is absent, unset, empty or a placeholder.
    fn text(&self, name: &str) -> Option<Cow<'_, str>>;

    /// The field as a port number; 0 counts as absent.
    fn port(&self, name: &str) -> Option<u16> {
        self.text(name)?
            .parse::<u16>()
            .ok()
            .filter(|&port| port != 0)
    }

    /// The field as a boolean (`T`/`F` in TSV, `true`/`false` in JSON).
    fn flag(&self, name: &str) -> Option<bool> {
        Value::Str(self.text(name)?).as_bool()
    }

    /// The field as a time: `None` when absent, `Some(None)` when present but unreadable.
    fn time(&self, name: &str) -> Option<Option<Timestamp>> {
        Some(timefmt::parse_value(&Value::Str(self.text(name)?)))
    }

    /// Whether the field has a value.
    fn has(&self, name: &str) -> bool {
        self.text(name).is_some()
    }
}

/// The fields of a JSON record, found under their dotted name, the same name with
/// underscores, or nested objects (`"id": {"orig_h": ...}`).
struct JsonFields<'o, 'a>(&'o Object<'a>);

impl<'o, 'a> JsonFields<'o, 'a> {
    /// The value of a field; JSON `null` counts as absent.
    fn value(&self, name: &str) -> Option<&'o Value<'a>> {
        find(self.0, name).filter(|value| !matches!(value, Value::Null))
    }
}

/// Finds `name` in `object`, trying the exact key, then underscores for dots, then nested
/// objects along the dots.
fn find<'o, 'a>(object: &'o Object<'a>, name: &str) -> Option<&'o Value<'a>> {
    if let Some(value) = object.get(name) {
        return Some(value);
    }
    let (parent, child) = name.split_once('.')?;

    let underscored = object
        .iter()
        .find(|(key, _)| same_but_underscores(key, name));
    underscored
        .map(|(_, value)| value)
        .or_else(|| find(object.get(parent)?.as_object()?, child))
}

/// Whether `key` is `name` with some or all of its dots written as underscores.
fn same_but_underscores(key: &str, name: &str) -> bool {
    key.len() == name.len()
        && key
            .bytes()
            .zip(name.bytes())
            .all(|(k, n)| k == n || (n == b'.' && k == b'_'))
}

impl Fields for JsonFields<'_, '_> {
    fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        self.value(name)?.text()
    }

    fn port(&self, name: &str) -> Option<u16> {
        self.value(name)?.as_port()
    }

    fn flag(&self, name: &str) -> Option<bool> {
        self.value(name)?.as_bool()
    }

    fn time(&self, name: &str) -> Option<Option<Timestamp>> {
        let value = self.value(name)?;
        if let Value::Str(text) = value
            && matches!(text.trim(), "" | "-")
        {
            return None;
        }
        Some(timefmt::parse_value(value))
    }
}

/// The fields of one TSV row, named by the file's `#fields` header.
struct TsvFields<'h, 'r> {
    /// The header of the row's file.
    header: &'h ZeekTsvHeader,
    /// The row split at the separator; as many values as the header has fields.
    values: Vec<&'r str>,
}

impl<'h, 'r> TsvFields<'h, 'r> {
    /// Splits a row, which must have exactly the columns its header names.
    fn split(header: &'h ZeekTsvHeader, line: &'r str) -> Result<Self, NormalizeError> {
        let format = Format::ZeekTsv;
        if line.starts_with('#') {
            let reason = "a Zeek TSV header line".to_owned();
            return Err(NormalizeError::NotAnEvent { format, reason });
        }
        if header.fields.is_empty() || header.separator.is_empty() {
            let reason = "a Zeek TSV row needs the #fields header of its file";
            return Err(NormalizeError::MissingContext { format, reason });
        }

        // A row that does not line up with its header would put values in the wrong
        // columns, so it is refused rather than read.
        let values: Vec<&str> = line.split(header.separator.as_str()).collect();
        if values.len() != header.fields.len() {
            let detail = format!(
                "row has {} columns where the #fields header names {}",
                values.len(),
                header.fields.len()
            );
            return Err(NormalizeError::Malformed { format, detail });
        }
        Ok(TsvFields { header, values })
    }
}

impl Fields for TsvFields<'_, '_> {
    fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        let index = self.header.fields.iter().position(|field| field == name)?;
        let value = *self.values.get(index)?;
        let absent = value.is_empty()
            || value == self.header.unset_field
            || value == self.header.empty_field;
        (!absent).then(|| unescape(value))
    }
}

/// Decodes Zeek's `\xHH` escapes, which it writes for separators and unprintable bytes.
fn unescape(value: &str) -> Cow<'_, str> {
    if !value.contains("\\x") {
        return Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i..i + 4)
            .filter(|seq| seq.starts_with(b"\\x"))
            .and_then(|seq| {
                let hex = std::str::from_utf8(&seq[2..]).ok()?;
                u8::from_str_radix(hex, 16).ok()
            });
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 4;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

/// Builds the event of one record from its fields and its log name, if known.
fn map(
    fields: &impl Fields,
    named: Option<&str>,
    origin: Origin<'_>,
    record: &Record<'_>,
    format: Format,
) -> Result<Event, NormalizeError> {
    let time = fields
        .time("ts")
        .ok_or(NormalizeError::MissingField {
            format,
            field: "ts",
        })?
        .ok_or(NormalizeError::InvalidField {
            format,
            field: "ts",
            reason: "not epoch seconds or an ISO 8601 time",
        })?;

    let log = named
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_ascii_lowercase)
        .or_else(|| infer_log(fields).map(str::to_owned));
    let activity = log.clone().unwrap_or_else(|| "unknown".to_owned());
    let mut event = Event::new(origin, time, Class::NetworkActivity, activity);
    event.observed_time = fields.time("_write_ts").flatten().or(record.received);
    if let Some(sensor) = fields
        .text("@system")
        .or_else(|| fields.text("_system_name"))
    {
        event.set_host(&sensor);
    }

    event.src_ip = owned(fields.text("id.orig_h"));
    event.src_port = fields.port("id.orig_p");
    event.dst_ip = owned(fields.text("id.resp_h"));
    event.dst_port = fields.port("id.resp_p");
    event.protocol = fields.text("proto").map(|proto| proto.to_ascii_lowercase());

    match log.as_deref() {
        Some("conn") => event.activity = "traffic".to_owned(),
        Some("smb_mapping") => smb_mapping(fields, &mut event),
        Some("smb_files") => smb_files(fields, &mut event),
        Some("dce_rpc") => dce_rpc(fields, &mut event),
        Some("rdp") => rdp(fields, &mut event),
        Some("ntlm") => ntlm(fields, &mut event),
        Some("kerberos") => kerberos(fields, &mut event),
        Some("notice") => notice(fields, &mut event),
        _ => {}
    }
    event.event_code = log;
    Ok(event)
}

/// The fields that identify a log, for records that do not name theirs: a log matches when
/// the record has every field of any one of its sets. Checked in order; the first match
/// wins, so a log whose fields another log also writes comes after that log.
const SHAPES: &[(&str, &[&[&str]])] = &[
    ("conn", &[&["conn_state"], &["history"]]),
    ("dce_rpc", &[&["endpoint", "operation"]]),
    ("smb_mapping", &[&["share_type"]]),
    (
        "rdp",
        &[&["security_protocol"], &["cookie"], &["cert_count"]],
    ),
    (
        "ntlm",
        &[
            &["server_nb_computer_name"],
            &["server_dns_computer_name"],
            &["domainname", "success"],
        ],
    ),
    ("kerberos", &[&["request_type"], &["client", "service"]]),
    ("notice", &[&["note"]]),
    ("dns", &[&["qtype_name"], &["rcode_name"]]),
    ("http", &[&["method", "uri"]]),
    ("ssl", &[&["cipher", "version"], &["ssl_history"], &["ja3"]]),
    ("x509", &[&["certificate.serial"], &["certificate.version"]]),
    (
        "ssh",
        &[&["auth_success"], &["auth_attempts"], &["host_key"]],
    ),
    ("files", &[&["fuid", "seen_bytes"], &["fuid", "mime_type"]]),
    ("pe", &[&["machine", "is_exe"]]),
    ("dpd", &[&["analyzer", "failure_reason"]]),
    ("weird", &[&["name", "peer"]]),
    ("software", &[&["software_type"]]),
    ("known_services", &[&["port_num", "port_proto"]]),
];

/// Recognizes the log of a record that does not name it, from the fields that log writes.
fn infer_log(fields: &impl Fields) -> Option<&'static str> {
    // An SMB action (`SMB::FILE_OPEN`) is the one shape told by a value, not a field.
    if fields
        .text("action")
        .is_some_and(|action| action.starts_with("SMB::"))
    {
        return Some("smb_files");
    }
    SHAPES.iter().find_map(|(log, shapes)| {
        let matches = |shape: &&[&str]| shape.iter().all(|name| fields.has(name));
        shapes.iter().any(matches).then_some(*log)
    })
}

/// smb_mapping: a client mapped a share (`\\HOST\ADMIN$`).
fn smb_mapping(fields: &impl Fields, event: &mut Event) {
    event.class = Class::SmbActivity;
    event.activity = "share_map".to_owned();
    event.protocol = Some("smb".to_owned());
    set_share(fields, event);
}

/// smb_files: a file or named pipe was opened, written, deleted... on a share.
fn smb_files(fields: &impl Fields, event: &mut Event) {
    event.class = Class::SmbActivity;
    event.activity = match fields.text("action") {
        Some(action) => {
            let action = action.strip_prefix("SMB::").unwrap_or(&action);
            snake_case(action)
        }
        None => "file_access".to_owned(),
    };
    event.protocol = Some("smb".to_owned());
    set_share(fields, event);

    if let Some(name) = fields.text("name") {
        let target = name.trim_start_matches('\\');
        event.share_target = (!target.is_empty()).then(|| target.to_owned());
        event.file_path = Some(name.into_owned());
    }
}

/// Sets `share_name`, and the server from the UNC `path` (`\\HOST\SHARE`).
fn set_share(fields: &impl Fields, event: &mut Event) {
    let Some(path) = fields.text("path") else {
        return;
    };
    let share = UncShare::parse(&path);
    event.share_name = share.share.map(str::to_uppercase);

    match share.server {
        Some(server) if server.parse::<IpAddr>().is_ok() => {
            event.dst_ip.get_or_insert_with(|| server.to_owned());
        }
        Some(server) => event.dst_host = HostName::parse(server).map(|name| name.host),
        None => {}
    }
}

/// The parts of a UNC share path such as `\\HOST\ADMIN$`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UncShare<'a> {
    /// The server, as written: a name or an IP address.
    pub(super) server: Option<&'a str>,
    /// The share, as written (`ADMIN$`, `admin$`).
    pub(super) share: Option<&'a str>,
}

impl<'a> UncShare<'a> {
    /// Splits a UNC path; a path without the leading `\\` is taken as a bare share name.
    /// Shared with the Suricata normalizer, whose SMB events log the same paths.
    pub(super) fn parse(path: &'a str) -> Self {
        let path = path.trim();
        let rest = path.trim_start_matches(['\\', '/']);
        let non_empty = |part: &'a str| (!part.is_empty()).then_some(part);
        match rest.split_once(['\\', '/']) {
            Some((server, share)) => UncShare {
                server: non_empty(server),
                share: share.split(['\\', '/']).next().and_then(non_empty),
            },
            None if rest.len() < path.len() => UncShare {
                server: non_empty(rest),
                share: None,
            },
            None => UncShare {
                server: None,
                share: non_empty(rest),
            },
        }
    }
}

/// dce_rpc: one RPC call; see the module doc for where its parts go.
fn dce_rpc(fields: &impl Fields, event: &mut Event) {
    event.class = Class::RpcActivity;
    event.activity = match fields.text("operation") {
        Some(operation) => snake_case(&operation),
        None => "call".to_owned(),
    };
    event.protocol = Some("dce_rpc".to_owned());
    event.service_name = owned(fields.text("endpoint"));
    event.share_target = fields.text("named_pipe").and_then(|pipe| pipe_name(&pipe));
}

/// The pipe name in a dce_rpc `named_pipe` (`\pipe\ntsvcs` -> `ntsvcs`); `None` when it is a
/// TCP port number instead.
fn pipe_name(logged: &str) -> Option<String> {
    let name = logged.trim().trim_start_matches('\\');
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = match name.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("pipe\\") => &name[5..],
        _ => name,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// rdp: one RDP connection attempt.
fn rdp(fields: &impl Fields, event: &mut Event) {
    event.class = Class::RdpActivity;
    event.activity = "connect".to_owned();
    event.protocol = Some("rdp".to_owned());
    // The cookie carries the user name the client typed (`mstshash=`), when it sends one.
    if let Some(cookie) = fields.text("cookie") {
        event.set_user(&cookie, None);
    }
    event.src_host = host_of(fields.text("client_name"));
    event.outcome = fields
        .text("result")
        .and_then(|result| rdp_outcome(&result));
}

/// The outcome of an RDP connection from Zeek's `result`, `None` when it does not say.
fn rdp_outcome(result: &str) -> Option<Outcome> {
    const REFUSALS: [&str; 8] = [
        "reject",
        "required",
        "not_allowed",
        "not allowed",
        "not available",
        "not_on_server",
        "locked",
        "inconsistent",
    ];
    let result = result.to_ascii_lowercase();
    if result == "success" || result == "encrypted" {
        Some(Outcome::Success)
    } else if REFUSALS.iter().any(|refusal| result.contains(refusal)) {
        Some(Outcome::Failure)
    } else {
        None
    }
}

/// ntlm: one NTLM authentication.
fn ntlm(fields: &impl Fields, event: &mut Event) {
    event.class = Class::Authentication;
    event.activity = "logon".to_owned();
    event.protocol = Some("ntlm".to_owned());
    if let Some(user) = fields.text("username") {
        event.set_user(&user, fields.text("domainname").as_deref());
    }
    event.src_host = host_of(fields.text("hostname"));
    let server = fields.text("server_nb_computer_name");
    event.dst_host = host_of(server.or_else(|| fields.text("server_dns_computer_name")));

    event.outcome = fields.flag("success").map(outcome_of);
}

/// kerberos: one ticket request to a KDC.
fn kerberos(fields: &impl Fields, event: &mut Event) {
    event.class = Class::Authentication;
    event.activity = match fields.text("request_type") {
        Some(kind) if kind.eq_ignore_ascii_case("AS") => "ticket_request",
        Some(kind) if kind.eq_ignore_ascii_case("TGS") => "service_ticket_request",
        _ => "request",
    }
    .to_owned();
    event.protocol = Some("kerberos".to_owned());

    // Zeek writes the client as `name/REALM`; other tools write `name@REALM`.
    if let Some(client) = fields.text("client") {
        let (name, realm) = match client.rsplit_once('/') {
            Some((name, realm)) => (name, Some(realm)),
            None => (&*client, None),
        };
        if !name.is_empty() {
            event.set_user(name, realm);
        }
    }
    event.service_name = owned(fields.text("service"));
    event.outcome = fields.flag("success").map(outcome_of);
}

/// notice: a finding of Zeek's own scripts.
fn notice(fields: &impl Fields, event: &mut Event) {
    event.class = Class::DetectionFinding;
    event.activity = "notice".to_owned();
    event.severity = Some(Severity::Medium);
    event.signature = owned(fields.text("note"));
    // A notice about a host rather than a connection names it in `src`/`dst`/`p`.
    if event.src_ip.is_none() {
        event.src_ip = owned(fields.text("src"));
    }
    if event.dst_ip.is_none() {
        event.dst_ip = owned(fields.text("dst"));
    }
    if event.dst_port.is_none() {
        event.dst_port = fields.port("p");
    }
}

/// A lowercase snake-case activity name from a logged one (`FILE_OPEN`, `ept_map`).
fn snake_case(logged: &str) -> String {
    let name: String = logged
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name
    }
}

/// The normalized short name of a logged host.
fn host_of(logged: Option<Cow<'_, str>>) -> Option<String> {
    HostName::parse(&logged?).map(|name| name.host)
}

/// The outcome a success flag means.
fn outcome_of(success: bool) -> Outcome {
    if success {
        Outcome::Success
    } else {
        Outcome::Failure
    }
}

/// An owned copy of a field's text.
fn owned(text: Option<Cow<'_, str>>) -> Option<String> {
    text.map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// One SMB connection, as the `_path` dialect writes it.
    fn conn_path() -> String {
        json!({
            "_path": "conn", "_write_ts": "2020-04-30T00:06:40.000000Z",
            "ts": "2020-04-30T00:06:39.824370Z", "uid": "C1",
            "id.orig_h": "10.0.1.6", "id.orig_p": 54243,
            "id.resp_h": "10.0.0.4", "id.resp_p": 445,
            "proto": "tcp", "service": "smb", "conn_state": "SF", "history": "ShADad",
        })
        .to_string()
    }

    /// The same connection in the `@stream` dialect.
    fn conn_stream() -> String {
        json!({
            "@stream": "conn", "@system": "sensor1.example.lan", "@proc": "zeek",
            "ts": 1588205199.82437, "uid": "C1",
            "id_orig_h": "10.0.1.6", "id_orig_p": 54243,
            "id_resp_h": "10.0.0.4", "id_resp_p": 445,
            "proto": "tcp", "conn_state": "SF",
        })
        .to_string()
    }

    /// The same connection as Zeek's own JSON writes it: no log name.
    fn conn_plain() -> String {
        json!({
            "ts": 1588205199.82437, "uid": "C1",
            "id.orig_h": "10.0.1.6", "id.orig_p": 54243,
            "id.resp_h": "10.0.0.4", "id.resp_p": 445,
            "proto": "tcp", "conn_state": "SF", "history": "ShADad",
        })
        .to_string()
    }

    /// The same connection with the endpoints in a nested object, the port as text.
    fn conn_nested() -> String {
        json!({
            "ts": 1588205199.82437, "uid": "C1",
            "id": {"orig_h": "10.0.1.6", "orig_p": 54243, "resp_h": "10.0.0.4", "resp_p": "445"},
            "proto": "TCP", "conn_state": "SF",
        })
        .to_string()
    }

    const CONN_FIELDS: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\t\
                               service\tduration\tconn_state\ttunnel_parents";
    const CONN_ROW: &str =
        "1588205199.824370\tC1\t10.0.1.6\t54243\t10.0.0.4\t445\ttcp\t-\t-\tSF\t(empty)";

    fn json(line: &str) -> Result<Event, NormalizeError> {
        json_hinted(line, &Hint::None)
    }

    fn json_hinted(line: &str, hint: &Hint) -> Result<Event, NormalizeError> {
        let object = Object::parse(line.as_bytes()).expect("fixture is JSON");
        let record = Record {
            hint,
            ..Record::new(line.as_bytes(), "test.log:1")
        };
        let mut out = Vec::new();
        normalize_json(&object, &record, &mut out)?;
        assert_eq!(out.len(), 1, "one record makes one event");
        Ok(out.remove(0))
    }

    fn header(path: &str, fields: &str) -> ZeekTsvHeader {
        ZeekTsvHeader {
            path: Some(path.to_owned()),
            fields: fields.split('\t').map(str::to_owned).collect(),
            ..ZeekTsvHeader::default()
        }
    }

    fn tsv(header: &ZeekTsvHeader, line: &str) -> Result<Event, NormalizeError> {
        let mut out = Vec::new();
        normalize_tsv(
            header,
            &Record::new(line.as_bytes(), "conn.log:9"),
            &mut out,
        )?;
        assert_eq!(out.len(), 1, "one row makes one event");
        Ok(out.remove(0))
    }

    #[test]
    fn conn_reads_the_same_in_every_dialect_and_in_tsv() {
        let conn = Hint::ZeekPath("conn".into());
        let events = [
            json(&conn_path()).expect("_path dialect"),
            json(&conn_stream()).expect("@stream dialect"),
            json_hinted(&conn_plain(), &conn).expect("plain dialect named by its file"),
            json(&conn_plain()).expect("plain dialect named by its shape"),
            json(&conn_nested()).expect("nested id object"),
            tsv(&header("conn", CONN_FIELDS), CONN_ROW).expect("TSV row"),
        ];
        for event in &events {
            let seen = (
                event.time.to_string(),
                event.src_ip.as_deref(),
                event.src_port,
                event.dst_ip.as_deref(),
                event.dst_port,
                event.protocol.as_deref(),
            );
            let expected = (
                "2020-04-30T00:06:39.824370Z".to_owned(),
                Some("10.0.1.6"),
                Some(54243),
                Some("10.0.0.4"),
                Some(445),
                Some("tcp"),
            );
            assert_eq!(seen, expected, "{}", event.raw);
            assert_eq!(event.class, Class::NetworkActivity);
            assert_eq!(event.activity, "traffic");
            assert_eq!(event.event_code.as_deref(), Some("conn"));
            assert_eq!(event.source_kind, ward_schemas::SourceKind::Ndr);
        }
        assert_eq!(events[0].source_format, "zeek-json");
        assert_eq!(events[5].source_format, "zeek-tsv");
        assert_eq!(events[5].provenance, "conn.log:9");
    }

    #[test]
    fn write_ts_is_observed_time_and_system_is_the_host() {
        let event = json(&conn_path()).expect("conn");
        let observed = event.observed_time.map(|t| t.to_string());
        assert_eq!(observed.as_deref(), Some("2020-04-30T00:06:40.000000Z"));

        let event = json(&conn_stream()).expect("conn");
        assert_eq!(event.host.as_deref(), Some("sensor1"));
        assert_eq!(event.host_domain.as_deref(), Some("example.lan"));
        assert_eq!(event.observed_time, None);
    }

    #[test]
    fn smb_mapping_of_admin_share_names_share_and_server() {
        let line = json!({
            "_path": "smb_mapping", "ts": 1588205199.8,
            "id.orig_h": "172.18.39.5", "id.orig_p": 50000,
            "id.resp_h": "172.18.39.6", "id.resp_p": 445,
            "path": "\\\\WORKSTATION6.theshire.local\\admin$", "share_type": "DISK",
        });
        let event = json(&line.to_string()).expect("smb_mapping");
        assert_eq!(event.class, Class::SmbActivity);
        assert_eq!(event.activity, "share_map");
        assert_eq!(event.share_name.as_deref(), Some("ADMIN$"));
        assert_eq!(event.dst_host.as_deref(), Some("workstation6"));
        assert_eq!(event.dst_ip.as_deref(), Some("172.18.39.6"));
        assert_eq!(event.protocol.as_deref(), Some("smb"));

        // A server written as an IP address is no host name; the IP stays in dst_ip.
        let line = json!({
            "ts": 1588205199.8, "id.resp_h": "10.47.21.25",
            "path": "\\\\10.47.21.25\\IPC$", "share_type": "PIPE",
        });
        let event = json(&line.to_string()).expect("smb_mapping by shape");
        assert_eq!(event.event_code.as_deref(), Some("smb_mapping"));
        assert_eq!(event.share_name.as_deref(), Some("IPC$"));
        assert_eq!(event.dst_host, None);
        assert_eq!(event.dst_ip.as_deref(), Some("10.47.21.25"));
    }

    #[test]
    fn smb_files_on_the_svcctl_pipe() {
        let line = json!({
            "_path": "smb_files", "ts": "2018-03-24T17:15:54.600639Z",
            "id.orig_h": "10.128.0.214", "id.resp_h": "10.47.8.142", "id.resp_p": 445,
            "action": "SMB::FILE_OPEN", "name": "\\svcctl", "size": 0,
        });
        let event = json(&line.to_string()).expect("smb_files");
        assert_eq!(event.class, Class::SmbActivity);
        assert_eq!(event.activity, "file_open");
        assert_eq!(event.share_target.as_deref(), Some("svcctl"));
        assert_eq!(event.file_path.as_deref(), Some("\\svcctl"));
        assert_eq!(event.share_name, None);

        let line = json!({
            "ts": 1521911754.6, "action": "SMB::FILE_DELETE",
            "path": "\\\\10.47.21.82\\ADMIN$", "name": "Temp\\x.tmp",
        });
        let event = json(&line.to_string()).expect("smb_files by shape");
        assert_eq!(event.event_code.as_deref(), Some("smb_files"));
        assert_eq!(event.activity, "file_delete");
        assert_eq!(event.share_name.as_deref(), Some("ADMIN$"));
        assert_eq!(event.share_target.as_deref(), Some("Temp\\x.tmp"));
    }

    #[test]
    fn dce_rpc_puts_interface_in_service_and_operation_in_activity() {
        let line = json!({
            "_path": "dce_rpc", "ts": 1521911725.3,
            "id.orig_h": "10.1.1.1", "id.resp_h": "10.1.1.2", "id.resp_p": 445,
            "named_pipe": "\\PIPE\\ntsvcs", "endpoint": "svcctl", "operation": "CreateServiceW",
        });
        let event = json(&line.to_string()).expect("dce_rpc");
        assert_eq!(event.class, Class::RpcActivity);
        assert_eq!(event.activity, "createservicew");
        assert_eq!(event.service_name.as_deref(), Some("svcctl"));
        assert_eq!(event.share_target.as_deref(), Some("ntsvcs"));
        assert_eq!(event.protocol.as_deref(), Some("dce_rpc"));

        // Over TCP the "pipe" is the port number, which is no pipe.
        let line = json!({
            "ts": 1521911725.3, "id.resp_p": 135,
            "named_pipe": "135", "endpoint": "epmapper", "operation": "ept_map",
        });
        let event = json(&line.to_string()).expect("dce_rpc by shape");
        assert_eq!(event.activity, "ept_map");
        assert_eq!(event.share_target, None);
        assert_eq!(event.dst_port, Some(135));
    }

    #[test]
    fn rdp_cookie_is_the_user_and_result_the_outcome() {
        let line = json!({
            "_path": "rdp", "ts": 1521911721.2,
            "id.orig_h": "10.1.1.1", "id.resp_h": "10.1.1.2", "id.resp_p": 3389,
            "cookie": "jerry", "result": "Success", "security_protocol": "RDP",
            "client_name": "KALI",
        });
        let event = json(&line.to_string()).expect("rdp");
        assert_eq!(event.class, Class::RdpActivity);
        assert_eq!(event.activity, "connect");
        assert_eq!(event.user.as_deref(), Some("jerry"));
        assert_eq!(event.src_host.as_deref(), Some("kali"));
        assert_eq!(event.outcome, Some(Outcome::Success));

        assert_eq!(rdp_outcome("encrypted"), Some(Outcome::Success));
        assert_eq!(
            rdp_outcome("SSL_NOT_ALLOWED_BY_SERVER"),
            Some(Outcome::Failure)
        );
        assert_eq!(
            rdp_outcome("HYBRID_REQUIRED_BY_SERVER"),
            Some(Outcome::Failure)
        );
        assert_eq!(rdp_outcome("User rejected"), Some(Outcome::Failure));
        assert_eq!(rdp_outcome("Unknown"), None);
    }

    #[test]
    fn ntlm_gives_user_domain_hosts_and_outcome() {
        let line = json!({
            "_path": "ntlm", "ts": 1521911721.6,
            "id.orig_h": "10.1.1.1", "id.resp_h": "10.1.1.2", "id.resp_p": 445,
            "username": "Administrator", "hostname": "WORKSTATION5", "domainname": "THESHIRE",
            "server_nb_computer_name": "MORDORDC",
            "server_dns_computer_name": "mordordc.theshire.local", "success": true,
        });
        let event = json(&line.to_string()).expect("ntlm");
        assert_eq!(event.class, Class::Authentication);
        assert_eq!(event.activity, "logon");
        assert_eq!(event.user.as_deref(), Some("administrator"));
        assert_eq!(event.user_domain.as_deref(), Some("theshire"));
        assert_eq!(event.src_host.as_deref(), Some("workstation5"));
        assert_eq!(event.dst_host.as_deref(), Some("mordordc"));
        assert_eq!(event.outcome, Some(Outcome::Success));
        assert_eq!(event.protocol.as_deref(), Some("ntlm"));

        let fields = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tusername\thostname\t\
                      domainname\tserver_nb_computer_name\tsuccess";
        let row = "1521911721.6\tC2\t10.1.1.1\t40000\t10.1.1.2\t445\tguest\t-\tWORKGROUP\t-\tF";
        let event = tsv(&header("ntlm", fields), row).expect("ntlm row");
        assert_eq!(event.user.as_deref(), Some("guest"));
        assert_eq!(event.user_domain.as_deref(), Some("workgroup"));
        assert_eq!(event.src_host, None);
        assert_eq!(event.outcome, Some(Outcome::Failure));
    }

    #[test]
    fn kerberos_client_principal_and_request_type() {
        let line = json!({
            "@stream": "kerberos", "ts": 1588205520.1,
            "id_orig_h": "10.0.1.4", "id_resp_h": "10.0.0.4", "id_resp_p": 88,
            "request_type": "TGS", "client": "pbeesly/DMEVALS.LOCAL",
            "service": "cifs/NASHUA", "success": true,
        });
        let event = json(&line.to_string()).expect("kerberos");
        assert_eq!(event.class, Class::Authentication);
        assert_eq!(event.activity, "service_ticket_request");
        assert_eq!(event.user.as_deref(), Some("pbeesly"));
        assert_eq!(event.user_domain.as_deref(), Some("dmevals.local"));
        assert_eq!(event.service_name.as_deref(), Some("cifs/NASHUA"));
        assert_eq!(event.outcome, Some(Outcome::Success));

        // `/NM` is Zeek's "no name": no user, not a user named "nm".
        let line = json!({
            "_path": "kerberos", "ts": "2018-03-24T17:18:05.713879Z",
            "request_type": "AS", "client": "/NM", "service": "krbtgt/NM", "success": false,
        });
        let event = json(&line.to_string()).expect("kerberos");
        assert_eq!(event.activity, "ticket_request");
        assert_eq!((event.user, event.user_domain), (None, None));
        assert_eq!(event.outcome, Some(Outcome::Failure));

        let fields = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\trequest_type\tclient\t\
                      service\tsuccess\terror_msg";
        let row = "1692161647.506749\tC9\t192.168.1.41\t55216\t192.168.1.4\t88\t-\t-\t\
                   krbtgt/PANDALAB.COM\tF\tKDC_ERR_PREAUTH_REQUIRED";
        let event = tsv(&header("kerberos", fields), row).expect("kerberos row");
        assert_eq!(event.activity, "request");
        assert_eq!(event.user, None);
        assert_eq!(event.outcome, Some(Outcome::Failure));
        assert_eq!(event.dst_port, Some(88));
    }

    #[test]
    fn notice_is_a_finding_with_its_note_as_signature() {
        let line = json!({
            "_path": "notice", "ts": 1588207244.74,
            "note": "SSL::Invalid_Server_Cert", "msg": "validation failed",
            "src": "10.0.1.6", "dst": "192.168.0.4", "p": 8443, "proto": "tcp",
        });
        let event = json(&line.to_string()).expect("notice");
        assert_eq!(event.class, Class::DetectionFinding);
        assert_eq!(event.activity, "notice");
        assert_eq!(event.signature.as_deref(), Some("SSL::Invalid_Server_Cert"));
        assert_eq!(event.severity, Some(Severity::Medium));
        assert_eq!(event.src_ip.as_deref(), Some("10.0.1.6"));
        assert_eq!(event.dst_ip.as_deref(), Some("192.168.0.4"));
        assert_eq!(event.dst_port, Some(8443));
    }

    #[test]
    fn other_logs_are_kept_as_network_activity() {
        // x509's `id` is the file id, a string: it must not be taken for the endpoints.
        let line = json!({
            "_path": "x509", "ts": 1588207244.7,
            "id": "F1v6sJmRC73GU6WT3", "certificate.version": 3,
        });
        let event = json(&line.to_string()).expect("x509");
        assert_eq!(event.class, Class::NetworkActivity);
        assert_eq!(event.activity, "x509");
        assert_eq!(event.event_code.as_deref(), Some("x509"));
        assert_eq!(event.src_ip, None);

        let line = json!({"ts": 1588205199.8, "query": "a.example", "qtype_name": "A"});
        assert_eq!(
            json(&line.to_string()).expect("dns by shape").activity,
            "dns"
        );

        let line = json!({"ts": 1588205199.8, "id.orig_h": "10.0.1.6", "mystery": 1});
        let event = json(&line.to_string()).expect("a log of no known shape");
        assert_eq!(
            (event.class, event.activity.as_str()),
            (Class::NetworkActivity, "unknown")
        );
        assert_eq!(event.event_code, None);
        assert_eq!(event.src_ip.as_deref(), Some("10.0.1.6"));

        let fields = "ts\tnode\tfilter\tinit\tsuccess";
        let row = "1692163735.003071\tzeek\tip or not ip\tT\tT";
        let event = tsv(&header("packet_filter", fields), row).expect("packet_filter row");
        assert_eq!(event.activity, "packet_filter");
    }

    #[test]
    fn records_without_a_log_name_are_named_by_their_shape() {
        let cases = [
            (json!({"ts": 1.0, "request_type": "AS"}), "kerberos"),
            (
                json!({"ts": 1.0, "client": "u/R", "service": "krbtgt/R"}),
                "kerberos",
            ),
            (
                json!({"ts": 1.0, "domainname": "D", "success": false}),
                "ntlm",
            ),
            (
                json!({"ts": 1.0, "result": "encrypted", "cert_count": 0}),
                "rdp",
            ),
            (
                json!({"ts": 1.0, "version": "TLSv12", "cipher": "TLS_AES_128"}),
                "ssl",
            ),
            (
                json!({"ts": 1.0, "certificate": {"version": 3, "serial": "7E"}}),
                "x509",
            ),
            (
                json!({"ts": 1.0, "fuid": "F1", "mime_type": "text/ini"}),
                "files",
            ),
            (
                json!({"ts": 1.0, "name": "bad_IP_checksum", "peer": "zeek"}),
                "weird",
            ),
            (
                json!({"ts": 1.0, "action": "SMB::FILE_WRITE", "fuid": "F2"}),
                "smb_files",
            ),
        ];
        for (line, log) in cases {
            let event = json(&line.to_string()).expect("a record of known shape");
            assert_eq!(event.event_code.as_deref(), Some(log), "{line}");
        }
        let line = json!({"ts": 1.0, "action": "SMB::FILE_WRITE"}).to_string();
        assert_eq!(json(&line).expect("smb_files").activity, "file_write");
    }

    #[test]
    fn missing_or_unreadable_ts_is_an_error_that_quotes_nothing() {
        let err = json(r#"{"_path":"conn","id.orig_h":"10.0.1.6"}"#).expect_err("no ts");
        assert_eq!(
            err,
            NormalizeError::MissingField {
                format: Format::ZeekJson,
                field: "ts"
            }
        );
        let err = json(r#"{"_path":"conn","ts":"-"}"#).expect_err("placeholder ts");
        assert!(
            matches!(err, NormalizeError::MissingField { field: "ts", .. }),
            "{err}"
        );

        let err = json(r#"{"_path":"conn","ts":"Jane Doe 1970"}"#).expect_err("bad ts");
        assert!(
            matches!(err, NormalizeError::InvalidField { field: "ts", .. }),
            "{err}"
        );
        assert!(!err.to_string().contains("Jane"), "{err}");

        let header = header("conn", CONN_FIELDS);
        let err = tsv(&header, &CONN_ROW.replace("1588205199.824370", "-")).expect_err("no ts");
        assert!(
            matches!(err, NormalizeError::MissingField { field: "ts", .. }),
            "{err}"
        );
        let err = tsv(&header, &CONN_ROW.replace("1588205199.824370", "Jane")).expect_err("bad");
        assert!(!err.to_string().contains("Jane"), "{err}");
    }

    #[test]
    fn tsv_rows_that_do_not_fit_their_header_are_refused() {
        let header = header("conn", CONN_FIELDS);
        let err = tsv(&header, "1588205199.8\tJane Doe").expect_err("too few columns");
        assert!(matches!(err, NormalizeError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("2 columns"), "{err}");
        assert!(!err.to_string().contains("Jane"), "{err}");

        let err = tsv(&header, "#close\t2023-08-16-01-28-55").expect_err("a header line");
        assert!(matches!(err, NormalizeError::NotAnEvent { .. }), "{err}");
        let err = tsv(&ZeekTsvHeader::default(), CONN_ROW).expect_err("no #fields");
        assert!(
            matches!(err, NormalizeError::MissingContext { .. }),
            "{err}"
        );
    }

    #[test]
    fn tsv_escapes_are_decoded() {
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape("a\\x09b"), "a\tb");
        assert_eq!(unescape("\\x5c\\x5cHOST\\x5cC$"), "\\\\HOST\\C$");
        assert_eq!(unescape("caf\\xc3\\xa9"), "café");
        assert_eq!(unescape("\\xZZ\\x4"), "\\xZZ\\x4");

        let fields = "ts\tid.orig_h\tid.resp_h\tpath\tshare_type";
        let row = "1692161687.379241\t192.168.1.41\t192.168.1.4\t\\x5c\\x5cDC01\\x5cIPC$\tPIPE";
        let event = tsv(&header("smb_mapping", fields), row).expect("smb_mapping row");
        assert_eq!(event.share_name.as_deref(), Some("IPC$"));
        assert_eq!(event.dst_host.as_deref(), Some("dc01"));
    }

    proptest::proptest! {
        #[test]
        fn no_row_or_value_makes_it_panic(
            row in "[-a-zA-Z0-9.:$#()\\\\\t\\x{e9}]{0,60}",
            value in proptest::prelude::any::<String>(),
            ts in proptest::prelude::any::<f64>(),
        ) {
            let fields = "ts\tid.orig_h\tpath\tname\taction";
            let _ = tsv(&header("smb_files", fields), &row);
            let _ = tsv(&header("smb_files", fields), &format!("{ts}\t{row}\t{row}\t-\t-"));
            for log in ["smb_mapping", "smb_files", "dce_rpc", "kerberos", "ntlm", "rdp"] {
                let line = json!({
                    "_path": log, "ts": ts, "path": value, "name": value, "action": value,
                    "named_pipe": value, "client": value, "username": value, "cookie": value,
                    "result": value, "id.orig_p": value,
                });
                let _ = json(&line.to_string());
            }
        }
    }

    #[test]
    fn unc_paths_split_into_server_and_share() {
        let parse = |path| {
            let share = UncShare::parse(path);
            (share.server, share.share)
        };
        assert_eq!(parse("\\\\HOST\\ADMIN$"), (Some("HOST"), Some("ADMIN$")));
        assert_eq!(parse("\\\\HOST\\C$\\Windows"), (Some("HOST"), Some("C$")));
        assert_eq!(parse("\\\\HOST"), (Some("HOST"), None));
        assert_eq!(parse("IPC$"), (None, Some("IPC$")));
        assert_eq!(parse("\\\\"), (None, None));
    }
}
