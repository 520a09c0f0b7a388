use ward_schemas::{Class, Event, Outcome};

use crate::record::Record;
use crate::{DeadLetter, FormatChoice, NormalizeError, Normalizer};

fn normalize(line: &str) -> Result<Event, DeadLetter> {
    let mut events = Vec::new();
    let mut dead = Vec::new();
    Normalizer::new(FormatChoice::Auto).normalize(
        &Record::new(line.as_bytes(), "t:1"),
        &mut events,
        &mut dead,
    );
    match (events.pop(), dead.pop()) {
        (Some(event), None) => Ok(event),
        (None, Some(letter)) => Err(letter),
        other => panic!("one record gave {other:?}"),
    }
}

const NXLOG_4624: &str = concat!(
    r#"{"EventID":4624,"Channel":"security","Hostname":"WORKSTATION6.theshire.local","#,
    r#""host":"wec.internal","Keywords":-9214364837600034816,"EventTime":"2020-09-20 12:16:56","#,
    r#""@timestamp":"2020-09-20T16:16:58.212Z","TargetUserName":"pgustavo","#,
    r#""TargetDomainName":"THESHIRE.LOCAL","TargetLogonId":"0x2990d17","LogonType":"3","#,
    r#""IpAddress":"172.18.39.5","IpPort":"56608","WorkstationName":"-","#,
    r#""AuthenticationPackageName":"Kerberos","ProcessName":"-"}"#,
);

#[test]
fn nxlog_network_logon() {
    let event = normalize(NXLOG_4624).expect("normalizes");
    assert_eq!(event.source_format, "windows-json");
    assert_eq!(event.class, Class::Authentication);
    assert_eq!(event.activity, "logon");
    assert_eq!(event.event_code.as_deref(), Some("4624"));
    assert_eq!(event.host.as_deref(), Some("workstation6"));
    assert_eq!(event.host_domain.as_deref(), Some("theshire.local"));
    assert_eq!(event.dst_host.as_deref(), Some("workstation6"));
    assert_eq!(event.user.as_deref(), Some("pgustavo"));
    assert_eq!(event.user_domain.as_deref(), Some("theshire.local"));
    assert_eq!(event.logon_type, Some(3));
    assert_eq!(event.logon_id.as_deref(), Some("0x2990d17"));
    assert_eq!(event.src_ip.as_deref(), Some("172.18.39.5"));
    assert_eq!(event.src_port, Some(56608));
    assert_eq!(event.src_host, None);
    assert_eq!(event.protocol.as_deref(), Some("kerberos"));
    assert_eq!(event.outcome, Some(Outcome::Success));
    // The collector's UTC time wins over NXLog's zone-less local EventTime.
    assert_eq!(event.time.to_string(), "2020-09-20T16:16:58.212000Z");
    assert_eq!(event.raw, NXLOG_4624);
}

#[test]
fn sysmon_utc_time_wins_over_the_collector() {
    let line = concat!(
        r#"{"EventID":"3","Channel":"Microsoft-Windows-Sysmon/Operational","#,
        r#""Hostname":"WORKSTATION5.theshire.local","@timestamp":"2020-09-20T16:16:58.307Z","#,
        r#""UtcTime":"2020-09-20 16:16:58.794","User":"THESHIRE\\pgustavo","#,
        r#""Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","#,
        r#""Protocol":"tcp","SourceIp":"172.18.39.5","SourcePort":"56607","#,
        r#""DestinationIp":"172.18.39.6","DestinationPort":135,"SourceHostname":"-","#,
        r#""DestinationHostname":"WORKSTATION6.theshire.local"}"#,
    );
    let event = normalize(line).expect("normalizes");
    assert_eq!(event.class, Class::NetworkActivity);
    assert_eq!(event.time.to_string(), "2020-09-20T16:16:58.794000Z");
    assert_eq!(
        event.observed_time.map(|t| t.to_string()).as_deref(),
        Some("2020-09-20T16:16:58.307000Z")
    );
    assert_eq!(event.user.as_deref(), Some("pgustavo"));
    assert_eq!(event.user_domain.as_deref(), Some("theshire"));
    assert_eq!(event.process_name.as_deref(), Some("powershell.exe"));
    assert_eq!(
        (event.src_ip.as_deref(), event.src_port),
        (Some("172.18.39.5"), Some(56607))
    );
    assert_eq!(
        (event.dst_ip.as_deref(), event.dst_port),
        (Some("172.18.39.6"), Some(135))
    );
    assert_eq!(event.dst_host.as_deref(), Some("workstation6"));
    assert_eq!(event.protocol.as_deref(), Some("tcp"));
}

#[test]
fn evtx_service_install_with_qualified_event_id() {
    let line = concat!(
        r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Service Control Manager"}},"##,
        r##""EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"Level":4,"##,
        r##""Keywords":"0x8080000000000000","##,
        r##""TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T00:41:29.008933Z"}},"##,
        r##""Channel":"System","Computer":"WIN-77LTAPHIQ1R.example.corp"},"##,
        r##""EventData":{"ServiceName":"remotesvc","ImagePath":"calc.exe","##,
        r##""AccountName":"LocalSystem"}}}"##,
    );
    let event = normalize(line).expect("normalizes");
    assert_eq!(event.source_format, "windows-evtx-json");
    assert_eq!(event.class, Class::ServiceActivity);
    assert_eq!(event.activity, "install");
    assert_eq!(event.event_code.as_deref(), Some("7045"));
    assert_eq!(event.service_name.as_deref(), Some("remotesvc"));
    assert_eq!(event.command_line.as_deref(), Some("calc.exe"));
    assert_eq!(event.host.as_deref(), Some("win-77ltaphiq1r"));
    // The service's own account is not the actor.
    assert_eq!(event.user, None);
    assert_eq!(event.time.to_string(), "2019-03-19T00:41:29.008933Z");
}

#[test]
fn evtx_share_access_names_the_pipe() {
    let line = concat!(
        r##"{"Event":{"System":{"EventID":5145,"Keywords":"0x8020000000000000","##,
        r##""TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T00:41:29Z"}},"##,
        r##""Channel":"Security","Computer":"PC02.example.corp"},"##,
        r##""EventData":{"SubjectUserName":"admin01","SubjectDomainName":"EXAMPLE","##,
        r##""ShareName":"\\\\*\\IPC$","RelativeTargetName":"svcctl","##,
        r##""IpAddress":"::ffff:10.0.2.17","IpPort":"49244"}}}"##,
    );
    let event = normalize(line).expect("normalizes");
    assert_eq!(event.class, Class::SmbActivity);
    assert_eq!(event.activity, "file_access");
    assert_eq!(event.share_name.as_deref(), Some("IPC$"));
    assert_eq!(event.share_target.as_deref(), Some("svcctl"));
    assert_eq!(event.src_ip.as_deref(), Some("10.0.2.17"));
    assert_eq!(event.user.as_deref(), Some("admin01"));
    assert_eq!(event.outcome, Some(Outcome::Success));
}

#[test]
fn winlogbeat_logon() {
    let line = concat!(
        r#"{"@timestamp":"2021-05-01T10:00:00.123Z","event":{"code":"4624","#,
        r#""created":"2021-05-01T10:00:02Z"},"host":{"name":"ws-12"},"#,
        r#""winlog":{"channel":"Security","computer_name":"WS-12.clinic.example","#,
        r#""event_id":"4624","event_data":{"TargetUserName":"nurse7","TargetDomainName":"CLINIC","#,
        r#""LogonType":"10","IpAddress":"10.1.2.3","IpPort":"0"}}}"#,
    );
    let event = normalize(line).expect("normalizes");
    assert_eq!(event.source_format, "windows-json");
    assert_eq!(event.activity, "logon");
    assert_eq!(event.host.as_deref(), Some("ws-12"));
    assert_eq!(event.user.as_deref(), Some("nurse7"));
    assert_eq!(event.logon_type, Some(10));
    assert_eq!(event.src_port, None, "port 0 means none");
    assert_eq!(event.time.to_string(), "2021-05-01T10:00:00.123000Z");
}

#[test]
fn inbound_filtering_platform_connection_puts_the_initiator_in_src() {
    let line = concat!(
        r#"{"EventID":5156,"Channel":"Security","Hostname":"WORKSTATION6","#,
        r#""@timestamp":"2020-09-20T16:16:58Z","Direction":"%%14592","#,
        r#""SourceAddress":"172.18.39.6","SourcePort":"135","DestAddress":"172.18.39.5","#,
        r#""DestPort":"56607","Protocol":6,"#,
        r#""Application":"\\device\\harddiskvolume2\\windows\\system32\\svchost.exe"}"#,
    );
    let event = normalize(line).expect("normalizes");
    assert_eq!(event.src_ip.as_deref(), Some("172.18.39.5"));
    assert_eq!(event.dst_ip.as_deref(), Some("172.18.39.6"));
    assert_eq!(event.dst_port, Some(135));
    assert_eq!(event.protocol.as_deref(), Some("tcp"));
    assert_eq!(event.process_name.as_deref(), Some("svchost.exe"));
}

#[test]
fn unmapped_events_are_kept_as_base_events() {
    let line = concat!(
        r#"{"EventID":9999,"Channel":"Application","Hostname":"PACS01","#,
        r#""@timestamp":"2020-09-20T16:16:58Z"}"#,
    );
    let event = normalize(line).expect("normalizes");
    assert_eq!(event.class, Class::BaseEvent);
    assert_eq!(event.host.as_deref(), Some("pacs01"));
}

#[test]
fn broken_event_ids_and_missing_times_are_dead_letters() {
    let no_time = r#"{"EventID":4624,"Channel":"Security","Hostname":"A"}"#;
    let letter = normalize(no_time).expect_err("no time");
    assert!(matches!(
        letter.reason,
        NormalizeError::MissingField { field: "time", .. }
    ));

    let bad_id = r#"{"EventID":"forty","Channel":"Security","@timestamp":"2020-09-20T16:16:58Z"}"#;
    let letter = normalize(bad_id).expect_err("bad id");
    assert!(matches!(
        letter.reason,
        NormalizeError::InvalidField {
            field: "EventID",
            ..
        }
    ));
    assert_eq!(letter.raw, bad_id.as_bytes());
    assert_eq!(letter.provenance, "t:1");
}
