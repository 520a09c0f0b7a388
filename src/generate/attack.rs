//! The injected attack: a phished clinical workstation, two PsExec-style hops and bulk EHR
//! reads.
//!
//! The story, in true time, from `t0` two to two and a half hours into the day:
//! 1. An hour before, a helpdesk admin logs on interactively at the first workstation to
//!    fix something; Windows caches the admin's credentials there.
//! 2. `t0`: a clinician on shift at that workstation opens a macro document from a
//!    phishing mail; Word starts an encoded PowerShell that calls out to the internet.
//! 3. `t0 + 25m`: with the admin's cached credentials, PsExec on the first workstation
//!    reaches a second workstation in another unit: explicit-credential use, SMB, a
//!    network logon, ADMIN$ and the service-control pipe, a service install.
//! 4. Three minutes later the same from the second workstation to the ePHI database
//!    server, and a direct connection to its SQL Server port.
//! 5. Seven minutes later the clinician's account, from the second workstation, opens
//!    up to 650 patients' charts through the EHR within twelve minutes.

use chrono::{DateTime, TimeDelta, Utc};
use fastrand::Rng;

use super::AttackTruth;
use super::background::{EHR_CLIENT, tls};
use super::hospital::{DATABASE, EHR_APP, Hospital, Host};
use super::records::{Conn, EhrAccess, EhrAction, EhrLog, Logs, Proto, ephemeral_port, seconds};
use super::windows::{self, Connection, Logon, Process};

/// The helpdesk account whose cached credentials carry the hops.
const ADMIN: &str = "adm-tquinn";
/// Where the phishing payload calls home: a documentation address, never routable.
const COMMAND_AND_CONTROL: &str = "203.0.113.45";
/// Most patients' records the attacker reads.
const HARVEST: usize = 650;

/// The attack as injected.
#[derive(Debug, Clone)]
pub(super) struct Attack {
    /// The phished workstation.
    pub first: Host,
    /// The workstation reached from it.
    pub second: Host,
    /// The ePHI database server.
    pub database: Host,
    /// The phished clinician's account.
    phished: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    harvested: usize,
}

impl Attack {
    /// What `truth.json` says of the attack.
    pub fn truth(&self) -> AttackTruth {
        AttackTruth {
            path: vec![
                self.first.name.clone(),
                self.second.name.clone(),
                self.database.name.clone(),
            ],
            phished_user: self.phished.clone(),
            admin_user: ADMIN.to_owned(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            patients_harvested: self.harvested,
        }
    }
}

/// Adds the attack's records to `logs`.
pub(super) fn inject(
    rng: &mut Rng,
    hospital: &Hospital,
    start: DateTime<Utc>,
    logs: &mut Logs,
) -> Attack {
    let phished = &hospital.clinicians[rng.usize(..hospital.clinicians.len())];
    let first = hospital.workstations[phished.home].clone();
    let second = second_workstation(rng, hospital, phished.home);
    let database = hospital.server(DATABASE).clone();
    let user = phished.account.as_str();
    let t0 = start + TimeDelta::hours(2) + seconds(rng, 0, 1_800);

    helpdesk_visit(rng, &first, t0 - TimeDelta::hours(1), logs);
    phishing(rng, &first, user, t0, logs);
    let t1 = t0 + TimeDelta::minutes(25) + seconds(rng, 0, 60);
    hop(rng, (&first, &second), user, t1, logs);
    let t2 = t1 + TimeDelta::minutes(3) + seconds(rng, 0, 30);
    hop(rng, (&second, &database), ADMIN, t2, logs);
    logs.conns.push(Conn {
        time: t2 + TimeDelta::seconds(50),
        duration: seconds(rng, 30, 90),
        orig: (second.ip.clone(), ephemeral_port(rng)),
        resp: (database.ip.clone(), 1433),
        proto: Proto::Tcp,
        service: None,
        orig_bytes: rng.u64(2_000..8_000),
        resp_bytes: rng.u64(8_000_000..40_000_000),
        local_resp: true,
    });

    let t3 = t2 + TimeDelta::minutes(7);
    let (harvested, last_seen) = harvest(rng, hospital, (&second, user), t3, logs);
    Attack {
        first,
        second,
        database,
        phished: user.to_owned(),
        first_seen: t0,
        last_seen,
        harvested,
    }
}

/// A workstation in another unit than `home`'s, or any other one.
fn second_workstation(rng: &mut Rng, hospital: &Hospital, home: usize) -> Host {
    let others: Vec<usize> = (0..hospital.workstations.len())
        .filter(|&i| i != home)
        .collect();
    let elsewhere: Vec<usize> = others
        .iter()
        .copied()
        .filter(|&i| hospital.unit_of(i) != hospital.unit_of(home))
        .collect();
    let pool = if elsewhere.is_empty() {
        &others
    } else {
        &elsewhere
    };
    hospital.workstations[pool[rng.usize(..pool.len())]].clone()
}

/// The admin's interactive logon and logoff at the first workstation.
fn helpdesk_visit(rng: &mut Rng, host: &Host, at: DateTime<Utc>, logs: &mut Logs) {
    let logon_id = windows::logon_id(rng);
    let logon = Logon {
        host,
        user: ADMIN,
        logon_type: 2,
        from: None,
        package: "Negotiate",
        logon_id: &logon_id,
    };
    logs.windows.push(windows::logon(rng, at, &logon));
    logs.windows
        .push(windows::special_privileges(at, host, ADMIN, &logon_id));
    let done = at + TimeDelta::minutes(9) + seconds(rng, 0, 120);
    logs.windows
        .push(windows::logoff(done, host, ADMIN, &logon_id));
}

/// The macro document, its PowerShell and the call home.
fn phishing(rng: &mut Rng, host: &Host, user: &str, t0: DateTime<Utc>, logs: &mut Logs) {
    let qualified = windows::qualified(user);
    let word = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE";
    let document = format!(
        "\"{word}\" /n \"C:\\Users\\{user}\\Downloads\\Discharge_Summary_Update.docm\" /o \"\""
    );
    let open = Process {
        user: &qualified,
        image: word,
        command_line: &document,
        parent_image: "C:\\Windows\\explorer.exe",
        integrity: "Medium",
    };
    logs.windows.push(windows::process(rng, t0, host, &open));

    let powershell = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
    let command = format!(
        "{powershell} -nop -w hidden -enc \
         SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"
    );
    let payload = Process {
        user: &qualified,
        image: powershell,
        command_line: &command,
        parent_image: word,
        integrity: "Medium",
    };
    let spawned = t0 + seconds(rng, 4, 12);
    logs.windows
        .push(windows::process(rng, spawned, host, &payload));

    let port = ephemeral_port(rng);
    let beacon = Connection {
        user: &qualified,
        image: powershell,
        source: (&host.ip, port),
        destination: (COMMAND_AND_CONTROL, 443),
        destination_name: None,
    };
    let called = spawned + seconds(rng, 1, 3);
    logs.windows
        .push(windows::connection(rng, called, host, &beacon));
    logs.conns.push(Conn {
        time: called,
        duration: TimeDelta::minutes(40),
        orig: (host.ip.clone(), port),
        resp: (COMMAND_AND_CONTROL.to_owned(), 443),
        proto: Proto::Tcp,
        service: Some("ssl"),
        orig_bytes: rng.u64(200_000..900_000),
        resp_bytes: rng.u64(1_000_000..3_000_000),
        local_resp: false,
    });
}

/// A PsExec run from `from` to `to` with the admin's credentials, started by `actor`'s
/// session on `from`, as both hosts and the wire record it.
fn hop(rng: &mut Rng, (from, to): (&Host, &Host), actor: &str, at: DateTime<Utc>, logs: &mut Logs) {
    let qualified = windows::qualified(actor);
    let psexec = "C:\\Users\\Public\\PsExec64.exe";
    let command = format!("{psexec} \\\\{} -accepteula -s cmd.exe", to.netbios());
    let client = Process {
        user: &qualified,
        image: psexec,
        command_line: &command,
        parent_image: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        integrity: "High",
    };
    logs.windows.push(windows::process(rng, at, from, &client));
    let used = at + TimeDelta::milliseconds(rng.i64(200..900));
    logs.windows.push(windows::explicit_credentials(
        used,
        from,
        (actor, ADMIN),
        to,
        psexec,
    ));

    let port = ephemeral_port(rng);
    let smb = Connection {
        user: &qualified,
        image: psexec,
        source: (&from.ip, port),
        destination: (&to.ip, 445),
        destination_name: Some(to),
    };
    let connected = used + TimeDelta::milliseconds(rng.i64(20..200));
    logs.windows
        .push(windows::connection(rng, connected, from, &smb));
    logs.conns.push(Conn {
        time: connected,
        duration: seconds(rng, 20, 120),
        orig: (from.ip.clone(), port),
        resp: (to.ip.clone(), 445),
        proto: Proto::Tcp,
        service: Some("smb"),
        orig_bytes: rng.u64(400_000..600_000),
        resp_bytes: rng.u64(20_000..90_000),
        local_resp: true,
    });

    let logged_on = connected + TimeDelta::milliseconds(rng.i64(50..300));
    let logon_id = windows::logon_id(rng);
    let logon = Logon {
        host: to,
        user: ADMIN,
        logon_type: 3,
        from: Some(from),
        package: "NTLM",
        logon_id: &logon_id,
    };
    logs.windows.push(windows::logon(rng, logged_on, &logon));
    logs.windows
        .push(windows::special_privileges(logged_on, to, ADMIN, &logon_id));
    let session = (ADMIN, logon_id.as_str());
    let copied = logged_on + TimeDelta::milliseconds(rng.i64(100..500));
    logs.windows.push(windows::share(
        copied,
        to,
        session,
        (from, port),
        ("ADMIN$", None),
    ));
    let target = Some("PSEXESVC.exe");
    logs.windows.push(windows::share(
        copied,
        to,
        session,
        (from, port),
        ("ADMIN$", target),
    ));
    let piped = copied + TimeDelta::milliseconds(rng.i64(100..500));
    logs.windows.push(windows::share(
        piped,
        to,
        session,
        (from, port),
        ("IPC$", Some("svcctl")),
    ));

    let installed = piped + TimeDelta::milliseconds(rng.i64(100..400));
    let service = ("PSEXESVC", "%SystemRoot%\\PSEXESVC.exe");
    logs.windows
        .push(windows::service_install(installed, to, ADMIN, service));
    let started = installed + TimeDelta::milliseconds(rng.i64(100..400));
    let system = "NT AUTHORITY\\SYSTEM";
    let service_process = Process {
        user: system,
        image: "C:\\Windows\\PSEXESVC.exe",
        command_line: "C:\\Windows\\PSEXESVC.exe",
        parent_image: "C:\\Windows\\System32\\services.exe",
        integrity: "System",
    };
    logs.windows
        .push(windows::process(rng, started, to, &service_process));
    let shell = Process {
        user: system,
        image: "C:\\Windows\\System32\\cmd.exe",
        command_line: "\"cmd.exe\"",
        parent_image: "C:\\Windows\\PSEXESVC.exe",
        integrity: "System",
    };
    let spawned = started + TimeDelta::milliseconds(rng.i64(200..800));
    logs.windows
        .push(windows::process(rng, spawned, to, &shell));
}

/// `user`'s account opening patients' charts from `host` through the EHR client, one
/// patient after another; returns how many and when the last one was read.
fn harvest(
    rng: &mut Rng,
    hospital: &Hospital,
    (host, user): (&Host, &str),
    at: DateTime<Utc>,
    logs: &mut Logs,
) -> (usize, DateTime<Utc>) {
    let qualified = windows::qualified(user);
    let ehr_app = hospital.server(EHR_APP);
    let client = Process {
        user: &qualified,
        image: EHR_CLIENT,
        command_line: &format!("\"{EHR_CLIENT}\" /user:{user}"),
        parent_image: "C:\\Windows\\System32\\cmd.exe",
        integrity: "Medium",
    };
    logs.windows.push(windows::process(rng, at, host, &client));

    let count = HARVEST.min(hospital.patients.len());
    let mut patients: Vec<usize> = (0..hospital.patients.len()).collect();
    rng.shuffle(&mut patients);
    // Whole milliseconds apart, as the EHR stamps its audit records.
    let step = TimeDelta::milliseconds(12 * 60 * 1000 / (count.max(1) as i64));
    let mut time = at + TimeDelta::seconds(30);
    for (n, &patient) in patients.iter().take(count).enumerate() {
        logs.ehr.push(EhrAccess {
            time,
            user: user.to_owned(),
            workstation: host.name.clone(),
            patient: hospital.patients[patient].clone(),
            action: EhrAction::ReadChart,
            log: EhrLog::Fhir,
            department: "",
        });
        if n % 10 == 0 {
            logs.conns
                .push(tls(rng, host, ehr_app, time - TimeDelta::milliseconds(80)));
        }
        time += step;
    }
    (count, time - step)
}
