//! The Security channel: logons, explicit credentials, Kerberos and NTLM, process
//! creation, service and task installs, share access, filtering-platform connections,
//! object access and account changes.
//!
//! Where an event names two accounts (a subject who acted and a target it acted on), the
//! `user` column holds the account the event is about: the one that logged on (4624,
//! 4625), whose credentials were used (4648) or who asked for a ticket (4768, 4769); the
//! subject for everything a logged-on account does itself (4688, 4697, 5140, 5145).

use ward_schemas::{Class, Event, Outcome};

use super::{WinEvent, image_name, ip, set_process, set_user_from, share_name};

const SUBJECT: (&str, &str) = ("SubjectUserName", "SubjectDomainName");
const TARGET: (&str, &str) = ("TargetUserName", "TargetDomainName");

/// Fills `event` from a Security channel event.
pub(super) fn map(win: &WinEvent<'_, '_>, event: &mut Event) {
    match win.id {
        4624 | 4625 => logon(win, event),
        4634 | 4647 => {
            classify(event, Class::Authentication, "logoff");
            set_user_from(event, win, &[TARGET]);
            event.logon_id = win.text(&["TargetLogonId"]).map(Into::into);
            event.logon_type = win.int(&["LogonType"]).and_then(|t| i32::try_from(t).ok());
        }
        4648 => explicit_logon(win, event),
        4672 => {
            classify(event, Class::Authentication, "special_privileges");
            set_user_from(event, win, &[SUBJECT]);
            event.logon_id = win.text(&["SubjectLogonId"]).map(Into::into);
        }
        4627 => {
            classify(event, Class::Authentication, "group_membership");
            set_user_from(event, win, &[TARGET, SUBJECT]);
        }
        4768..=4773 => kerberos(win, event),
        4776 => {
            classify(event, Class::Authentication, "credential_validation");
            set_user_from(event, win, &[TARGET]);
            event.src_host = src_host(win, &["Workstation"]);
            event.outcome = status_outcome(win, "Status").or(event.outcome);
            event.protocol = Some("ntlm".into());
        }
        4688 => {
            classify(event, Class::ProcessActivity, "launch");
            set_user_from(event, win, &[TARGET, SUBJECT]);
            event.logon_id = win.text(&["SubjectLogonId"]).map(Into::into);
            set_process(event, win.text(&["NewProcessName"]));
            event.command_line = win.text(&["CommandLine"]).map(Into::into);
            event.parent_process_name = win.text(&["ParentProcessName"]).map(|p| image_name(&p));
        }
        4689 => {
            classify(event, Class::ProcessActivity, "terminate");
            set_user_from(event, win, &[SUBJECT]);
            set_process(event, win.text(&["ProcessName"]));
        }
        4697 => {
            classify(event, Class::ServiceActivity, "install");
            set_user_from(event, win, &[SUBJECT]);
            event.logon_id = win.text(&["SubjectLogonId"]).map(Into::into);
            event.service_name = win.text(&["ServiceName"]).map(Into::into);
            event.command_line = win.text(&["ServiceFileName"]).map(Into::into);
        }
        4698..=4702 => scheduled_task(win, event),
        5140 | 5145 | 5142 | 5143 | 5144 | 5168 => share(win, event),
        5156..=5159 => filtering_platform(win, event),
        4656 | 4658 | 4660 | 4663 | 4670 | 4690 => object_access(win, event),
        4720..=4767 | 4780 | 4781 | 4794 | 5376 | 5377 => {
            classify(event, Class::AccountChange, account_activity(win.id));
            set_user_from(event, win, &[SUBJECT]);
        }
        1100 | 1102 | 1104 | 1105 | 4719 | 4906 | 4912 => {
            let activity = if win.id == 1102 {
                "clear"
            } else {
                "audit_policy"
            };
            classify(event, Class::EventLogActivity, activity);
            set_user_from(event, win, &[SUBJECT]);
        }
        4673 | 4674 | 4703 | 4704 | 4705 => {
            classify(event, Class::BaseEvent, "privilege_use");
            set_user_from(event, win, &[SUBJECT]);
            set_process(event, win.text(&["ProcessName"]));
        }
        _ => {
            set_user_from(event, win, &[SUBJECT]);
            set_process(event, win.text(&["ProcessName"]));
        }
    }
}

fn classify(event: &mut Event, class: Class, activity: &str) {
    event.class = class;
    event.activity = activity.to_owned();
}

fn logon(win: &WinEvent<'_, '_>, event: &mut Event) {
    let failed = win.id == 4625;
    classify(event, Class::Authentication, "logon");
    set_user_from(event, win, &[TARGET]);
    event.logon_type = win.int(&["LogonType"]).and_then(|t| i32::try_from(t).ok());
    event.logon_id = win.text(&["TargetLogonId"]).map(Into::into);
    event.src_ip = ip(win.text(&["IpAddress"]));
    event.src_port = win.port(&["IpPort"]);
    event.src_host = src_host(win, &["WorkstationName"]);
    event.dst_host = event.host.clone();
    event.protocol = win
        .text(&["AuthenticationPackageName"])
        .map(|p| p.to_lowercase());
    set_process(event, win.text(&["ProcessName"]));
    event.outcome = Some(if failed {
        Outcome::Failure
    } else {
        Outcome::Success
    });
}

fn explicit_logon(win: &WinEvent<'_, '_>, event: &mut Event) {
    classify(event, Class::Authentication, "explicit_logon");
    set_user_from(event, win, &[TARGET]);
    event.logon_id = win.text(&["SubjectLogonId"]).map(Into::into);
    event.src_host = event.host.clone();
    event.dst_host = src_host(win, &["TargetServerName"]);
    event.dst_ip = ip(win.text(&["IpAddress"]));
    event.dst_port = win.port(&["IpPort"]);
    set_process(event, win.text(&["ProcessName"]));
}

fn kerberos(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        4768 => "ticket_request",
        4769 => "service_ticket_request",
        4770 => "ticket_renew",
        4771 => "preauthentication_failed",
        _ => "ticket_other",
    };
    classify(event, Class::Authentication, activity);
    set_user_from(event, win, &[TARGET]);
    event.service_name = win.text(&["ServiceName"]).map(Into::into);
    event.src_ip = ip(win.text(&["IpAddress"]));
    event.src_port = win.port(&["IpPort"]);
    event.dst_host = event.host.clone();
    event.protocol = Some("kerberos".into());
    event.outcome = status_outcome(win, "Status").or(event.outcome);
    if win.id == 4771 {
        event.outcome = Some(Outcome::Failure);
    }
}

fn scheduled_task(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        4698 => "create",
        4699 => "delete",
        4700 => "enable",
        4701 => "disable",
        _ => "update",
    };
    classify(event, Class::ScheduledJobActivity, activity);
    set_user_from(event, win, &[SUBJECT]);
    event.logon_id = win.text(&["SubjectLogonId"]).map(Into::into);
    event.service_name = win.text(&["TaskName"]).map(Into::into);

    // The task's action is inside its XML definition; its command is what ran.
    let content = win.text(&["TaskContent", "TaskContentNew"]);
    if let Some(content) = content.as_deref() {
        let command = xml_text(content, "Command");
        let arguments = xml_text(content, "Arguments");
        event.command_line = match (command, arguments) {
            (Some(c), Some(a)) => Some(format!("{c} {a}")),
            (Some(c), None) => Some(c.to_owned()),
            _ => None,
        };
    }
}

fn share(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        5140 => "share_access",
        5145 => "file_access",
        5142 => "share_add",
        5143 => "share_change",
        5144 => "share_delete",
        _ => "share_other",
    };
    classify(event, Class::SmbActivity, activity);
    set_user_from(event, win, &[SUBJECT]);
    event.logon_id = win.text(&["SubjectLogonId"]).map(Into::into);
    event.share_name = win.text(&["ShareName"]).and_then(|s| share_name(&s));
    event.share_target = win
        .text(&["RelativeTargetName"])
        .map(|t| t.trim_start_matches('\\').to_owned())
        .filter(|t| !t.is_empty());
    event.file_path = win.text(&["ShareLocalPath"]).map(Into::into);
    event.src_ip = ip(win.text(&["IpAddress"]));
    event.src_port = win.port(&["IpPort"]);
    event.dst_host = event.host.clone();
    event.protocol = Some("smb".into());
}

fn filtering_platform(win: &WinEvent<'_, '_>, event: &mut Event) {
    let activity = match win.id {
        5156 => "traffic",
        5157 => "blocked",
        5158 => "bind",
        _ => "listen_blocked",
    };
    classify(event, Class::NetworkActivity, activity);
    if matches!(win.id, 5157 | 5159) {
        event.outcome = Some(Outcome::Failure);
    }
    set_process(event, win.text(&["Application"]));
    event.protocol = win.int(&["Protocol"]).map(|p| match p {
        6 => "tcp".to_owned(),
        17 => "udp".to_owned(),
        1 => "icmp".to_owned(),
        other => other.to_string(),
    });

    // For inbound connections the platform logs the local end as the source; the columns
    // always put the initiator in src.
    let local = (ip(win.text(&["SourceAddress"])), win.port(&["SourcePort"]));
    let remote = (ip(win.text(&["DestAddress"])), win.port(&["DestPort"]));
    let direction = win.text(&["Direction"]).unwrap_or_default();
    let inbound = direction == "%%14592" || direction.eq_ignore_ascii_case("inbound");
    let ((src_ip, src_port), (dst_ip, dst_port)) = if inbound {
        (remote, local)
    } else {
        (local, remote)
    };
    (event.src_ip, event.src_port, event.dst_ip, event.dst_port) =
        (src_ip, src_port, dst_ip, dst_port);
}

fn object_access(win: &WinEvent<'_, '_>, event: &mut Event) {
    let registry = win
        .text(&["ObjectType"])
        .is_some_and(|t| t.eq_ignore_ascii_case("key"));
    let class = if registry {
        Class::RegistryActivity
    } else {
        Class::FileActivity
    };
    let activity = match win.id {
        4656 => "open",
        4658 => "close",
        4660 => "delete",
        4670 => "permission_change",
        4690 => "duplicate_handle",
        _ => "access",
    };
    classify(event, class, activity);
    set_user_from(event, win, &[SUBJECT]);
    event.logon_id = win.text(&["SubjectLogonId"]).map(Into::into);
    event.file_path = win.text(&["ObjectName"]).map(Into::into);
    set_process(event, win.text(&["ProcessName"]));
}

fn account_activity(id: u32) -> &'static str {
    match id {
        4720 | 4741 => "create",
        4722 => "enable",
        4725 => "disable",
        4726 | 4743 => "delete",
        4723 | 4724 => "password_change",
        4728 | 4732 | 4756 => "group_add",
        4729 | 4733 | 4757 => "group_remove",
        4740 => "lock",
        4767 => "unlock",
        _ => "change",
    }
}

/// The initiating host from a workstation-name field, normalized like every host name.
fn src_host(win: &WinEvent<'_, '_>, keys: &[&str]) -> Option<String> {
    let name = win.text(keys)?;
    ward_schemas::names::HostName::parse(&name).map(|h| h.host)
}

/// A Windows status code: `0x0` is success, anything else failure.
fn status_outcome(win: &WinEvent<'_, '_>, key: &str) -> Option<Outcome> {
    let status = win.int(&[key])?;
    Some(if status == 0 {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// The text of the first `<tag>` element in a small XML document, without parsing it.
fn xml_text<'t>(xml: &'t str, tag: &str) -> Option<&'t str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find("</")? + start;
    let text = xml[start..end].trim();
    (!text.is_empty()).then_some(text)
}
