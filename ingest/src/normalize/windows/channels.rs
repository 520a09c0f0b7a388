//! The channels besides Security and Sysmon: System (service control manager, DCOM),
//! PowerShell, WMI activity, WinRM, Task Scheduler and the RDP and terminal services logs.
//! An event of any other channel keeps its host, time and code as a `base_event`.

use ward_schemas::{Class, Event};

use super::{WinEvent, ip, set_process};

/// Fills `event` from an event of a channel other than Security and Sysmon.
pub(super) fn map(win: &WinEvent<'_, '_>, event: &mut Event) {
    let channel = win.channel.as_str();
    if channel == "system" {
        system(win, event);
    } else if channel.contains("powershell") {
        powershell(win, event);
    } else if channel.contains("wmi-activity") {
        wmi(win, event);
    } else if channel.contains("winrm") {
        winrm(win, event);
    } else if channel.contains("taskscheduler") {
        task_scheduler(win, event);
    } else if channel.contains("rdpcorets") || channel.contains("terminalservices") {
        rdp(win, event);
    }
}

fn classify(event: &mut Event, class: Class, activity: &str) {
    event.class = class;
    event.activity = activity.to_owned();
}

fn system(win: &WinEvent<'_, '_>, event: &mut Event) {
    match win.id {
        7045 => {
            classify(event, Class::ServiceActivity, "install");
            event.service_name = win.text(&["ServiceName"]).map(Into::into);
            event.command_line = win.text(&["ImagePath"]).map(Into::into);
            // NXLog resolves the installing account into AccountName and Domain; evtx JSON
            // uses AccountName for the service's own account, which is not the actor.
            if win.text(&["Domain"]).is_some() {
                let user = win.text(&["AccountName"]);
                let domain = win.text(&["Domain"]);
                if let Some(user) = user {
                    event.set_user(&user, domain.as_deref());
                }
            }
        }
        7040 => classify(event, Class::ServiceActivity, "change"),
        7036 => classify(event, Class::ServiceActivity, "state_change"),
        7000 | 7009 | 7011 | 7023 | 7031 | 7034 => {
            classify(event, Class::ServiceActivity, "failure")
        }
        10016 => {
            // DCOM refused a launch or activation permission: a trace of remote DCOM use.
            classify(event, Class::BaseEvent, "dcom_permission_denied");
            let user = win.text(&["param7"]);
            let domain = win.text(&["param6"]);
            if let Some(user) = user {
                event.set_user(&user, domain.as_deref());
            }
            event.src_ip = ip(win.text(&["param9"]));
        }
        _ => {}
    }
    if event.class == Class::ServiceActivity && event.service_name.is_none() {
        event.service_name = win.text(&["param1", "ServiceName"]).map(Into::into);
    }
}

fn powershell(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        4104 => "script_block",
        4103 | 800 => "pipeline",
        400 => "engine_start",
        403 => "engine_stop",
        600 => "provider_start",
        _ => "other",
    };
    classify(event, Class::ScriptActivity, activity);
    event.protocol = Some("powershell".into());

    // 4103 and the classic log carry their context as "Key = value" lines.
    let context = win.text(&["ContextInfo", "HostApplication", "Data"]);
    let context = context.as_deref().unwrap_or_default();
    let field = |name: &str| {
        context.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == name)
                .then(|| value.trim())
                .filter(|v| !v.is_empty())
        })
    };
    if let Some(user) = field("User") {
        event.set_user(user, None);
    }
    event.command_line = win
        .text(&["ScriptBlockText"])
        .map(Into::into)
        .or_else(|| field("Host Application").map(Into::into))
        .or_else(|| field("HostApplication").map(Into::into));
    if let Some(host_app) = field("Host Application").or_else(|| field("HostApplication")) {
        let image = host_app.split_whitespace().next().unwrap_or(host_app);
        set_process(event, Some(image.into()));
    }
}

fn wmi(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        5857 => "provider_load",
        5858 => "operation_error",
        5859..=5861 => "subscription",
        _ => "other",
    };
    classify(event, Class::WmiActivity, activity);
    if let Some(user) = win.text(&["User"]) {
        event.set_user(&user, None);
    }
    event.src_host = win
        .text(&["ClientMachine"])
        .and_then(|m| ward_schemas::names::HostName::parse(&m))
        .map(|h| h.host);
    event.command_line = win
        .text(&["Operation", "Query", "CONSUMER"])
        .map(Into::into);
    set_process(event, win.text(&["HostProcess", "ProviderPath"]));
}

fn winrm(win: &WinEvent<'_, '_>, event: &mut Event) {
    event.protocol = Some("winrm".into());
    match win.id {
        169 => {
            classify(event, Class::Authentication, "logon");
            if let Some(user) = win.text(&["username"]) {
                event.set_user(&user, None);
            }
        }
        6 => {
            classify(event, Class::NetworkActivity, "session_create");
            event.dst_host = win
                .text(&["connection"])
                .and_then(|c| {
                    let host = c
                        .split(['/', ':'])
                        .find(|part| !part.is_empty())?
                        .to_owned();
                    ward_schemas::names::HostName::parse(&host)
                })
                .map(|h| h.host);
        }
        91 => classify(event, Class::ScriptActivity, "shell_create"),
        _ => classify(event, Class::BaseEvent, "winrm"),
    }
}

fn task_scheduler(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        106 => "create",
        140 => "update",
        141 => "delete",
        129 | 200 | 100 => "run",
        102 | 201 => "complete",
        _ => "other",
    };
    classify(event, Class::ScheduledJobActivity, activity);
    event.service_name = win.text(&["TaskName"]).map(Into::into);
    if let Some(user) = win.text(&["UserContext", "UserName"]) {
        event.set_user(&user, None);
    }
    set_process(event, win.text(&["Path", "ActionName"]));
}

fn rdp(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        131 => "connect",
        21 | 1149 => "logon",
        22 => "shell_start",
        23 | 24 => "logoff",
        25 => "reconnect",
        _ => "other",
    };
    classify(event, Class::RdpActivity, activity);
    event.protocol = Some("rdp".into());
    event.dst_host = event.host.clone();
    if let Some(user) = win.text(&["User", "Param1"]) {
        let domain = win.text(&["Param2"]);
        event.set_user(&user, domain.as_deref());
    }

    // RdpCoreTS logs the client as "ip:port"; terminal services as a bare address.
    if let Some(client) = win.text(&["ClientIP", "Address", "Param3"]) {
        match client.rsplit_once(':') {
            Some((address, port)) if !address.contains(':') || address.starts_with('[') => {
                event.src_ip = ip(Some(address.trim_matches(['[', ']']).into()));
                event.src_port = port.parse().ok().filter(|p| *p != 0);
            }
            _ => event.src_ip = ip(Some(client)),
        }
    }
}
