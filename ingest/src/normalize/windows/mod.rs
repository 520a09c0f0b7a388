//! Windows event logs: Security, Sysmon, System, PowerShell, WMI, WinRM, Task Scheduler
//! and RDP channels, in the three JSON shapes collectors write.
//!
//! Shapes:
//! - NXLog `im_msvistalog` flat JSON: `EventID`, `Channel`, `Hostname` and the event data
//!   as top-level keys, beside collector keys (`host` is the collector, not the event's
//!   machine).
//! - Winlogbeat: `winlog.event_id`, `winlog.channel`, `winlog.computer_name`, event data
//!   under `winlog.event_data`.
//! - evtx JSON: `Event.System.*` with `EventID` as a number, a string or
//!   `{"#text": 7045}`, data under `Event.EventData` or `Event.UserData.<name>`.
//!
//! Each shape is read into one [`WinEvent`] view, and the per-channel mappings in
//! [`security`], [`sysmon`] and [`channels`] see only that view, so a mapping is written
//! once for all shapes.
//!
//! Time: evtx `System.TimeCreated` and Sysmon's `UtcTime` are the sensor's clock and win.
//! NXLog's `EventTime` is local time with no zone, so it is the last resort behind the
//! collector's `@timestamp`; `observed_time` is always the collector's time when present.

mod channels;
mod security;
mod sysmon;

use std::borrow::Cow;

use ward_schemas::{Class, Event, Outcome, Severity, Timestamp};

use crate::json::{Object, Value};
use crate::record::Record;
use crate::{Format, NormalizeError, timefmt};

/// Normalizes an NXLog or Winlogbeat flat JSON event.
pub(crate) fn normalize_flat(
    object: &Object<'_>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    let event = match object.get("winlog").and_then(Value::as_object) {
        Some(winlog) => WinEvent::winlogbeat(object, winlog)?,
        None => WinEvent::nxlog(object)?,
    };
    out.push(event.normalize(record, Format::WindowsJson)?);
    Ok(())
}

/// Normalizes a nested evtx JSON event.
pub(crate) fn normalize_evtx(
    object: &Object<'_>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    let event = WinEvent::evtx(object)?;
    out.push(event.normalize(record, Format::WindowsEvtxJson)?);
    Ok(())
}

/// The parts of a Windows event every mapping needs, whatever the JSON shape.
pub(super) struct WinEvent<'o, 'a> {
    /// Event id within its provider.
    pub(super) id: u32,
    /// Channel name, lowercase.
    pub(super) channel: String,
    /// The machine that logged it, as logged.
    computer: Option<Cow<'o, str>>,
    /// Event time from the best clock the record has.
    time: Option<Timestamp>,
    /// The collector's time.
    observed: Option<Timestamp>,
    /// Windows `Keywords`, for the audit success and failure bits.
    keywords: Option<u64>,
    /// Windows level or NXLog severity, already mapped.
    severity: Option<Severity>,
    /// Objects holding the event data, searched in order.
    data: Vec<&'o Object<'a>>,
}

impl<'o, 'a> WinEvent<'o, 'a> {
    fn nxlog(object: &'o Object<'a>) -> Result<Self, NormalizeError> {
        let format = Format::WindowsJson;
        let id = event_id(object.get("EventID"), format)?;
        let time = ["UtcTime", "TimeCreated", "@timestamp", "EventTime"]
            .iter()
            .find_map(|key| object.get(key).and_then(timefmt::parse_value));
        let observed = ["@timestamp", "EventReceivedTime"]
            .iter()
            .find_map(|key| object.get(key).and_then(timefmt::parse_value));
        let severity = object
            .get("SeverityValue")
            .and_then(Value::as_i64)
            .map(|v| match v {
                5 => Severity::Critical,
                4 => Severity::High,
                3 => Severity::Medium,
                _ => Severity::Informational,
            });
        Ok(WinEvent {
            id,
            channel: channel_of(object.text_of(&["Channel", "SourceName"])),
            computer: object.text_of(&["Hostname", "Computer", "computer_name"]),
            time,
            observed,
            keywords: object.get("Keywords").and_then(keywords),
            severity,
            data: vec![object],
        })
    }

    fn winlogbeat(object: &'o Object<'a>, winlog: &'o Object<'a>) -> Result<Self, NormalizeError> {
        let format = Format::WindowsJson;
        let id = event_id(
            winlog.get("event_id").or(object.path(&["event", "code"])),
            format,
        )?;
        let time = object
            .get("@timestamp")
            .or(winlog.get("time_created"))
            .and_then(timefmt::parse_value);
        let observed = object
            .path(&["event", "created"])
            .and_then(timefmt::parse_value);
        let mut data = Vec::with_capacity(3);
        for key in ["event_data", "user_data"] {
            if let Some(found) = winlog.get(key).and_then(Value::as_object) {
                data.push(found);
            }
        }
        data.push(winlog);
        let computer = winlog
            .text_of(&["computer_name"])
            .or_else(|| object.path(&["host", "name"])?.text());
        Ok(WinEvent {
            id,
            channel: channel_of(winlog.text_of(&["channel", "provider_name"])),
            computer,
            time,
            observed,
            keywords: winlog.get("keywords").and_then(keywords),
            severity: None,
            data,
        })
    }

    fn evtx(object: &'o Object<'a>) -> Result<Self, NormalizeError> {
        let format = Format::WindowsEvtxJson;
        let system = object
            .path(&["Event", "System"])
            .and_then(Value::as_object)
            .ok_or(NormalizeError::MissingField {
                format,
                field: "Event.System",
            })?;
        let id = event_id(system.get("EventID"), format)?;
        let time = system
            .path(&["TimeCreated", "#attributes", "SystemTime"])
            .or(system.get("TimeCreated"))
            .and_then(timefmt::parse_value);
        let severity = system
            .get("Level")
            .and_then(Value::as_i64)
            .map(|level| match level {
                1 => Severity::Critical,
                2 => Severity::High,
                3 => Severity::Medium,
                _ => Severity::Informational,
            });

        // Event data lives under EventData, or one level down in UserData.
        let event = object.get("Event").and_then(Value::as_object);
        let mut data = Vec::with_capacity(2);
        if let Some(found) = event
            .and_then(|e| e.get("EventData"))
            .and_then(Value::as_object)
        {
            data.push(found);
        }
        if let Some(user_data) = event
            .and_then(|e| e.get("UserData"))
            .and_then(Value::as_object)
        {
            data.extend(user_data.iter().filter_map(|(_, v)| v.as_object()));
        }
        data.push(system);

        let provider = system
            .path(&["Provider", "#attributes", "Name"])
            .and_then(Value::text);
        Ok(WinEvent {
            id,
            channel: channel_of(system.text_of(&["Channel"]).or(provider)),
            computer: system.text_of(&["Computer"]),
            time,
            observed: None,
            keywords: system.get("Keywords").and_then(keywords),
            severity,
            data,
        })
    }

    /// The first of `keys` with a meaningful value in the event data.
    pub(super) fn text(&self, keys: &[&str]) -> Option<Cow<'o, str>> {
        keys.iter()
            .find_map(|key| self.data.iter().find_map(|o| o.get(key)?.text()))
    }

    /// The first of `keys` holding a port number.
    pub(super) fn port(&self, keys: &[&str]) -> Option<u16> {
        keys.iter()
            .find_map(|key| self.data.iter().find_map(|o| o.get(key)?.as_port()))
    }

    /// The first of `keys` holding an integer.
    pub(super) fn int(&self, keys: &[&str]) -> Option<i64> {
        keys.iter()
            .find_map(|key| self.data.iter().find_map(|o| o.get(key)?.as_i64()))
    }

    /// Whether the audit keywords say success or failure.
    fn audit_outcome(&self) -> Option<Outcome> {
        const AUDIT_SUCCESS: u64 = 0x0020_0000_0000_0000;
        const AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;
        let keywords = self.keywords?;
        if keywords & AUDIT_FAILURE != 0 {
            Some(Outcome::Failure)
        } else if keywords & AUDIT_SUCCESS != 0 {
            Some(Outcome::Success)
        } else {
            None
        }
    }

    fn normalize(&self, record: &Record<'_>, format: Format) -> Result<Event, NormalizeError> {
        let origin = super::origin(record, format)?;
        let time = self.time.ok_or(NormalizeError::MissingField {
            format,
            field: "time",
        })?;

        let mut event = Event::new(origin, time, Class::BaseEvent, "other");
        event.event_code = Some(self.id.to_string());
        event.observed_time = self.observed.or(record.received);
        event.severity = self.severity;
        event.outcome = self.audit_outcome();
        if let Some(computer) = &self.computer {
            event.set_host(computer);
        }

        let channel = self.channel.as_str();
        if channel == "security" {
            security::map(self, &mut event);
        } else if channel.contains("sysmon") {
            sysmon::map(self, &mut event);
        } else {
            channels::map(self, &mut event);
        }
        Ok(event)
    }
}

/// Reads an event id given as a number, a string, or evtx's `{"#text": 7045}`.
fn event_id(value: Option<&Value<'_>>, format: Format) -> Result<u32, NormalizeError> {
    let value = value.ok_or(NormalizeError::MissingField {
        format,
        field: "EventID",
    })?;
    let value = match value {
        Value::Object(object) => object.get("#text").unwrap_or(value),
        _ => value,
    };
    value
        .as_i64()
        .and_then(|id| u32::try_from(id).ok())
        .ok_or(NormalizeError::InvalidField {
            format,
            field: "EventID",
            reason: "not a number",
        })
}

/// Channel names arrive as `Security` and `security`; compare them lowercased.
fn channel_of(channel: Option<Cow<'_, str>>) -> String {
    channel.map(|c| c.to_lowercase()).unwrap_or_default()
}

/// Keywords as a signed integer (NXLog), an unsigned one, or a `0x` hex string (evtx).
fn keywords(value: &Value<'_>) -> Option<u64> {
    match value {
        Value::Int(n) => Some(*n as u64),
        Value::Str(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse::<i64>().map(|n| n as u64).ok(),
            }
        }
        _ => None,
    }
}

/// The executable name of a Windows path, lowercase: `C:\Windows\System32\svchost.exe`
/// gives `svchost.exe`.
pub(super) fn image_name(path: &str) -> String {
    path.rsplit(['\\', '/'])
        .next()
        .unwrap_or(path)
        .trim()
        .to_lowercase()
}

/// Sets `process_path` and `process_name` from a logged image path.
pub(super) fn set_process(event: &mut Event, path: Option<Cow<'_, str>>) {
    if let Some(path) = path {
        event.process_name = Some(image_name(&path));
        event.process_path = Some(path.into_owned());
    }
}

/// An IP address as logged, without the IPv4-mapped IPv6 prefix; `None` for placeholders.
pub(super) fn ip(value: Option<Cow<'_, str>>) -> Option<String> {
    let value = value?;
    let value = value.trim();
    let value = value.strip_prefix("::ffff:").unwrap_or(value);
    (!value.is_empty() && value != "-").then(|| value.to_ascii_lowercase())
}

/// A share name without its host part, upper case: `\\*\ADMIN$` gives `ADMIN$`.
pub(super) fn share_name(logged: &str) -> Option<String> {
    let name = logged.trim().rsplit('\\').next()?.trim();
    (!name.is_empty() && name != "*").then(|| name.to_uppercase())
}

/// Sets the user from the first name field present, with its domain field.
pub(super) fn set_user_from(event: &mut Event, win: &WinEvent<'_, '_>, fields: &[(&str, &str)]) {
    for (name_key, domain_key) in fields {
        if let Some(name) = win.text(&[name_key]) {
            let domain = win.text(&[domain_key]);
            event.set_user(&name, domain.as_deref());
            if event.user.is_some() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
