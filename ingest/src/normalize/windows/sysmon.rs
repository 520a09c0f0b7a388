//! Sysmon: process, network, image load, file, registry, pipe, WMI and DNS events.
//!
//! Sysmon logs the acting process as `Image` (or `SourceImage` for process access) and
//! the account as `User` in `DOMAIN\name` form. For process access and remote threads the
//! target process has no column of its own; its image goes to `file_path`, the file the
//! event is about.

use ward_schemas::{Class, Event};

use super::{WinEvent, image_name, ip, set_process};

/// Fills `event` from a Sysmon event.
pub(super) fn map(win: &WinEvent<'_, '_>, event: &mut Event) {
    let (class, activity) = match win.id {
        1 => (Class::ProcessActivity, "launch"),
        2 => (Class::FileActivity, "set_time"),
        3 => (Class::NetworkActivity, "traffic"),
        5 => (Class::ProcessActivity, "terminate"),
        6 => (Class::ModuleActivity, "driver_load"),
        7 => (Class::ModuleActivity, "load"),
        8 => (Class::ProcessActivity, "inject"),
        9 => (Class::FileActivity, "raw_read"),
        10 => (Class::ProcessActivity, "open"),
        11 => (Class::FileActivity, "create"),
        12..=14 => (Class::RegistryActivity, registry_activity(win)),
        15 => (Class::FileActivity, "create_stream"),
        17 => (Class::FileActivity, "pipe_create"),
        18 => (Class::FileActivity, "pipe_connect"),
        19 => (Class::WmiActivity, "filter"),
        20 => (Class::WmiActivity, "consumer"),
        21 => (Class::WmiActivity, "binding"),
        22 => (Class::NetworkActivity, "dns_query"),
        23 | 26 => (Class::FileActivity, "delete"),
        24 => (Class::BaseEvent, "clipboard"),
        25 => (Class::ProcessActivity, "tamper"),
        _ => (Class::BaseEvent, "other"),
    };
    event.class = class;
    event.activity = activity.to_owned();

    if let Some(user) = win.text(&["User"]) {
        event.set_user(&user, None);
    }
    event.logon_id = win.text(&["LogonId"]).map(Into::into);
    set_process(event, win.text(&["Image", "SourceImage"]));

    match win.id {
        1 => {
            event.command_line = win.text(&["CommandLine"]).map(Into::into);
            event.parent_process_name = win.text(&["ParentImage"]).map(|p| image_name(&p));
        }
        3 => {
            event.src_ip = ip(win.text(&["SourceIp"]));
            event.src_port = win.port(&["SourcePort"]);
            event.dst_ip = ip(win.text(&["DestinationIp"]));
            event.dst_port = win.port(&["DestinationPort"]);
            event.src_host = host(win, "SourceHostname");
            event.dst_host = host(win, "DestinationHostname");
            event.protocol = win.text(&["Protocol"]).map(|p| p.to_lowercase());
        }
        6 | 7 => event.file_path = win.text(&["ImageLoaded"]).map(Into::into),
        8 | 10 => event.file_path = win.text(&["TargetImage"]).map(Into::into),
        2 | 11 | 15 | 23 | 26 => event.file_path = win.text(&["TargetFilename"]).map(Into::into),
        12..=14 => event.file_path = win.text(&["TargetObject"]).map(Into::into),
        17 | 18 => {
            event.share_target = win
                .text(&["PipeName"])
                .map(|p| p.trim_start_matches('\\').to_owned())
                .filter(|p| !p.is_empty());
        }
        19..=21 => {
            event.command_line = win
                .text(&["Query", "Destination", "Consumer"])
                .map(Into::into)
        }
        22 => event.dst_host = host(win, "QueryName"),
        _ => {}
    }
}

fn registry_activity(win: &WinEvent<'_, '_>) -> &'static str {
    match win.text(&["EventType"]).as_deref() {
        Some("CreateKey") => "create_key",
        Some("DeleteKey") => "delete_key",
        Some("DeleteValue") => "delete_value",
        Some("RenameKey") => "rename_key",
        _ if win.id == 13 => "set_value",
        _ if win.id == 14 => "rename_key",
        _ => "change",
    }
}

fn host(win: &WinEvent<'_, '_>, key: &str) -> Option<String> {
    let name = win.text(&[key])?;
    ward_schemas::names::HostName::parse(&name).map(|h| h.host)
}
