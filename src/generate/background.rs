//! The day's ordinary work: what a hospital's sensors record when nothing is wrong.
//!
//! Each clinician works one shift a day at their own workstation: an interactive logon
//! (now and then after a mistyped password), Kerberos tickets from a domain controller,
//! Group Policy over SMB to it, the EHR client started, then reads and charting on their
//! own patients until the shift ends with a logoff. Every EHR interaction crosses the
//! network to the EHR application. The application servers query the ePHI database all day
//! with their service accounts. None of this should become an incident: workstations reach
//! the domain controllers and the EHR only as clients, and only the servers reach the
//! database.

use chrono::{DateTime, TimeDelta, Utc};
use fastrand::Rng;
use ward_correlate::Tier;

use super::hospital::{DATABASE, EHR_APP, Hospital, Host};
use super::records::{Conn, EhrAccess, EhrAction, Logs, Proto, ephemeral_port, seconds};
use super::windows::{self, Connection, Logon, Process};

/// The EHR desktop client every workstation runs.
pub(super) const EHR_CLIENT: &str = "C:\\Program Files\\NVH\\EHR\\EHRClient.exe";

/// Generates every shift and the servers' traffic between `start` and `end`.
pub(super) fn day(
    rng: &mut Rng,
    hospital: &Hospital,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    logs: &mut Logs,
) {
    let days = ((end - start).num_hours() + 23) / 24;
    for day in 0..days {
        let day_start = start + TimeDelta::days(day);
        for clinician in 0..hospital.clinicians.len() {
            let begin = day_start + seconds(rng, 0, 3_600);
            let finish = (begin + seconds(rng, 6 * 3_600, 9 * 3_600)).min(end);
            if begin + TimeDelta::minutes(30) < finish {
                shift(rng, hospital, clinician, (begin, finish), logs);
            }
        }
    }
    for server in hospital
        .servers
        .iter()
        .filter(|h| h.tier == Tier::Server && h.agent)
    {
        database_client(rng, hospital, server, (start, end), logs);
    }
    database_client(rng, hospital, hospital.server(EHR_APP), (start, end), logs);
}

/// One clinician's shift at their workstation.
fn shift(
    rng: &mut Rng,
    hospital: &Hospital,
    clinician: usize,
    (begin, finish): (DateTime<Utc>, DateTime<Utc>),
    logs: &mut Logs,
) {
    let person = &hospital.clinicians[clinician];
    let workstation = &hospital.workstations[person.home];
    let dcs = hospital.domain_controllers();
    let dc = dcs[rng.usize(..dcs.len())];
    let user = person.account.as_str();

    if rng.u8(..8) == 0 {
        let typo = begin - seconds(rng, 5, 40);
        logs.windows
            .push(windows::failed_logon(typo, workstation, user));
    }
    sign_on(rng, workstation, dc, user, begin, logs);
    let logon_id = windows::logon_id(rng);
    let logon = Logon {
        host: workstation,
        user,
        logon_type: 2,
        from: None,
        package: "Negotiate",
        logon_id: &logon_id,
    };
    logs.windows.push(windows::logon(rng, begin, &logon));

    let started = begin + seconds(rng, 20, 90);
    let qualified = windows::qualified(user);
    let client = Process {
        user: &qualified,
        image: EHR_CLIENT,
        command_line: &format!("\"{EHR_CLIENT}\" /sso"),
        parent_image: "C:\\Windows\\explorer.exe",
        integrity: "Medium",
    };
    logs.windows
        .push(windows::process(rng, started, workstation, &client));
    let ehr_app = hospital.server(EHR_APP);
    let link = Connection {
        user: &qualified,
        image: EHR_CLIENT,
        source: (&workstation.ip, ephemeral_port(rng)),
        destination: (&ehr_app.ip, 443),
        destination_name: Some(ehr_app),
    };
    logs.windows.push(windows::connection(
        rng,
        started + TimeDelta::seconds(1),
        workstation,
        &link,
    ));

    // Charting: reads most of the time, some updates, a few orders, on the clinician's
    // own patients, spread over the shift.
    let span = (finish - started).num_seconds().max(60);
    let mut times: Vec<DateTime<Utc>> = (0..rng.usize(15..=45))
        .map(|_| started + TimeDelta::seconds(rng.i64(30..span)))
        .collect();
    times.sort_unstable();
    for time in times {
        if person.panel.is_empty() {
            break;
        }
        let patient = person.panel[rng.usize(..person.panel.len())];
        let action = match rng.u8(..20) {
            0..=9 => EhrAction::ReadChart,
            10..=14 => EhrAction::ReadResults,
            15..=18 => EhrAction::UpdateFlowsheet,
            _ => EhrAction::OrderMedication,
        };
        logs.ehr.push(EhrAccess {
            time,
            user: person.account.clone(),
            workstation: workstation.name.clone(),
            patient: hospital.patients[patient].clone(),
            action,
            log: person.log(),
            department: person.department(),
        });
        let request = time - TimeDelta::milliseconds(rng.i64(40..400));
        logs.conns.push(tls(rng, workstation, ehr_app, request));
    }

    logs.windows
        .push(windows::logoff(finish, workstation, user, &logon_id));
}

/// What a domain sign-on leaves on the domain controller and the wire: the DNS lookup of
/// the domain's Kerberos service, a ticket-granting ticket, a service ticket for the
/// workstation, and Group Policy read over SMB with a network logon.
fn sign_on(
    rng: &mut Rng,
    workstation: &Host,
    dc: &Host,
    user: &str,
    at: DateTime<Utc>,
    logs: &mut Logs,
) {
    let tgt = at - TimeDelta::milliseconds(rng.i64(300..900));
    logs.conns.push(Conn {
        time: tgt - TimeDelta::milliseconds(40),
        duration: TimeDelta::milliseconds(rng.i64(1..5)),
        orig: (workstation.ip.clone(), ephemeral_port(rng)),
        resp: (dc.ip.clone(), 53),
        proto: Proto::Udp,
        service: Some("dns"),
        orig_bytes: rng.u64(40..70),
        resp_bytes: rng.u64(90..300),
        local_resp: true,
    });
    logs.windows.push(windows::kerberos(
        rng,
        tgt,
        dc,
        (4768, "krbtgt"),
        (user, workstation),
    ));
    let service = format!("{}$", workstation.netbios());
    let ticket = tgt + TimeDelta::milliseconds(rng.i64(20..200));
    logs.windows.push(windows::kerberos(
        rng,
        ticket,
        dc,
        (4769, &service),
        (user, workstation),
    ));
    logs.conns.push(Conn {
        time: tgt - TimeDelta::milliseconds(5),
        duration: TimeDelta::milliseconds(rng.i64(5..40)),
        orig: (workstation.ip.clone(), ephemeral_port(rng)),
        resp: (dc.ip.clone(), 88),
        proto: Proto::Tcp,
        service: Some("krb_tcp"),
        orig_bytes: rng.u64(1_400..1_900),
        resp_bytes: rng.u64(1_500..2_400),
        local_resp: true,
    });

    let policy = at + seconds(rng, 3, 15);
    let logon_id = windows::logon_id(rng);
    let logon = Logon {
        host: dc,
        user,
        logon_type: 3,
        from: Some(workstation),
        package: "Kerberos",
        logon_id: &logon_id,
    };
    logs.windows.push(windows::logon(rng, policy, &logon));
    logs.conns.push(Conn {
        time: policy - TimeDelta::milliseconds(30),
        duration: seconds(rng, 1, 6),
        orig: (workstation.ip.clone(), ephemeral_port(rng)),
        resp: (dc.ip.clone(), 445),
        proto: Proto::Tcp,
        service: Some("smb"),
        orig_bytes: rng.u64(3_000..9_000),
        resp_bytes: rng.u64(20_000..120_000),
        local_resp: true,
    });
}

/// An application server's day of database queries: a connection every few minutes, and
/// a network logon with its service account each hour.
fn database_client(
    rng: &mut Rng,
    hospital: &Hospital,
    server: &Host,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    logs: &mut Logs,
) {
    let database = hospital.server(DATABASE);
    let account = format!("svc-{}", server.name.split('-').nth(1).unwrap_or("app"));
    let mut time = start + seconds(rng, 0, 120);
    let mut next_logon = time;
    while time < end {
        if time >= next_logon {
            let logon_id = windows::logon_id(rng);
            let logon = Logon {
                host: database,
                user: &account,
                logon_type: 3,
                from: Some(server),
                package: "Kerberos",
                logon_id: &logon_id,
            };
            logs.windows.push(windows::logon(rng, time, &logon));
            next_logon = time + TimeDelta::hours(1);
        }
        logs.conns.push(Conn {
            time,
            duration: millis(rng),
            orig: (server.ip.clone(), ephemeral_port(rng)),
            resp: (database.ip.clone(), 1433),
            proto: Proto::Tcp,
            service: None,
            orig_bytes: rng.u64(400..6_000),
            resp_bytes: rng.u64(2_000..400_000),
            local_resp: true,
        });
        time += seconds(rng, 60, 360);
    }
}

/// One HTTPS request from a workstation to the EHR application.
pub(super) fn tls(rng: &mut Rng, workstation: &Host, ehr_app: &Host, at: DateTime<Utc>) -> Conn {
    Conn {
        time: at,
        duration: TimeDelta::milliseconds(rng.i64(60..1_500)),
        orig: (workstation.ip.clone(), ephemeral_port(rng)),
        resp: (ehr_app.ip.clone(), 443),
        proto: Proto::Tcp,
        service: Some("ssl"),
        orig_bytes: rng.u64(700..4_000),
        resp_bytes: rng.u64(5_000..200_000),
        local_resp: true,
    }
}

/// A query's duration: tens of milliseconds to a few seconds.
fn millis(rng: &mut Rng) -> TimeDelta {
    TimeDelta::milliseconds(rng.i64(15..3_000))
}
