use ward_schemas::SourceKind;
use ward_schemas::event::Origin;
use ward_schemas::signal::signal_id;

use super::*;

const INVENTORY: &str = r#"
[[asset]]
host = "ws-01"
ips = ["10.0.0.1"]
tier = "workstation"

[[asset]]
host = "ws-02"
ips = ["10.0.0.2"]
tier = "workstation"

[[asset]]
host = "app-01"
ips = ["10.0.1.1"]
tier = "server"

[[asset]]
host = "db-01"
ips = ["10.0.2.1"]
tier = "ephi_db"

[[asset]]
host = "dc-01"
ips = ["10.0.3.1"]
tier = "domain_controller"
"#;

/// Seconds after 2024-01-01T00:00:00Z.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros((1_704_067_200 + seconds) * 1_000_000)
}

fn correlator(inventory: &str) -> Correlator {
    let inventory = Inventory::parse(inventory).expect("a valid inventory");
    Correlator::new(
        CorrelatorSettings::default(),
        Arc::new(inventory),
        Policy::builtin(),
    )
}

fn step(n: u32, seconds: i64, src_ip: &str, dst_host: &str, severity: Severity) -> Signal {
    let event_id = EventId::of_record(format!("step {n}").as_bytes());
    Signal {
        signal_id: signal_id("remote-logon-network", event_id),
        time: at(seconds),
        rule_id: "remote-logon-network".into(),
        title: "Network logon from another host".into(),
        severity,
        technique: "T1021".into(),
        kind: SignalKind::Lateral,
        event_id,
        event_class: Class::Authentication,
        host: Some(dst_host.into()),
        src_host: None,
        src_ip: Some(src_ip.into()),
        dst_host: Some(dst_host.into()),
        dst_ip: None,
        user: Some("mallory".into()),
        patient_id: None,
        summary: None,
    }
}

fn ehr_access(n: u32, seconds: i64, user: &str, patient: &str) -> Event {
    let raw = format!("access {n}");
    let origin = Origin {
        raw: &raw,
        provenance: "test:1",
        kind: SourceKind::Ehr,
        format: "test",
    };
    let mut event = Event::new(origin, at(seconds), Class::EhrActivity, "read");
    event.user = Some(user.into());
    event.host = Some("ehr".into());
    event.patient_id = Some(patient.into());
    event
}

#[test]
fn a_multi_hop_chain_is_one_incident_with_the_whole_path() {
    let mut correlator = correlator(INVENTORY);
    correlator.add_signal(step(1, 0, "10.0.0.1", "ws-02", Severity::Medium));
    correlator.add_signal(step(2, 60, "10.0.0.2", "app-01", Severity::Medium));
    correlator.add_signal(step(3, 120, "10.0.1.1", "db-01", Severity::High));

    let incidents = correlator.incidents();

    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.path, ["ws-01", "ws-02", "app-01", "db-01"]);
    assert_eq!(incident.hops.len(), 3);
    assert_eq!(incident.evidence.len(), 3);
    assert_eq!(incident.users, ["mallory"]);
    assert_eq!(incident.severity, Severity::Critical);
    assert_eq!(incident.first_seen, at(0));
    assert_eq!(incident.last_seen, at(120));
    assert!(incident.reason.contains("db-01"));
}

#[test]
fn steps_out_of_causal_order_do_not_chain() {
    let mut correlator = correlator(INVENTORY);
    // app-01 reached db-01 an hour before anyone reached app-01.
    correlator.add_signal(step(1, 0, "10.0.1.1", "db-01", Severity::High));
    correlator.add_signal(step(2, 3_600, "10.0.0.1", "app-01", Severity::Medium));

    assert!(correlator.incidents().is_empty());
}

#[test]
fn clocks_skewed_by_up_to_five_minutes_still_chain() {
    let mut skewed = correlator(INVENTORY);
    skewed.add_signal(step(1, 600, "10.0.0.1", "ws-02", Severity::Medium));
    // The next sensor's clock runs 4 minutes behind.
    skewed.add_signal(step(2, 600 + 30 - 240, "10.0.0.2", "db-01", Severity::High));

    let incidents = skewed.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].path, ["ws-01", "ws-02", "db-01"]);

    let mut late = correlator(INVENTORY);
    late.add_signal(step(1, 600, "10.0.0.1", "ws-02", Severity::Medium));
    late.add_signal(step(2, 600 - 360, "10.0.0.2", "db-01", Severity::High));
    // Six minutes is beyond the tolerance: ws-02 reaching the database is an incident of
    // its own, which ws-01 did not lead to.
    let incidents = late.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].path, ["ws-02", "db-01"]);
}

#[test]
fn no_ephi_asset_means_no_incident() {
    let mut correlator = correlator(&INVENTORY.replace("ephi_db", "server"));
    correlator.add_signal(step(1, 0, "10.0.0.1", "ws-02", Severity::Medium));
    correlator.add_signal(step(2, 60, "10.0.0.2", "db-01", Severity::High));

    assert!(correlator.incidents().is_empty());
}

#[test]
fn routine_steps_into_a_domain_controller_are_not_a_path() {
    let mut correlator = correlator(INVENTORY);
    correlator.add_signal(step(1, 0, "10.0.0.1", "dc-01", Severity::Medium));
    correlator.add_signal(step(2, 60, "10.0.3.1", "db-01", Severity::High));

    assert!(correlator.incidents().is_empty());
    assert_eq!(correlator.stats().rejected_edges, 1);
}

#[test]
fn affected_patients_are_those_the_chain_touched_afterwards() {
    let mut correlator = correlator(INVENTORY);
    correlator.add_signal(step(1, 0, "10.0.0.1", "db-01", Severity::High));
    correlator.observe(&ehr_access(1, -600, "mallory", "before-the-attack"));
    for n in 0..520 {
        correlator.observe(&ehr_access(
            n + 2,
            60 + i64::from(n),
            "mallory",
            &format!("p{n}"),
        ));
    }
    correlator.observe(&ehr_access(9_999, 100, "someone-else", "not-involved"));

    let incidents = correlator.incidents();

    assert_eq!(incidents[0].patients_affected, 520);
    assert_eq!(incidents[0].triage, Triage::HhsAndMediaWithin60Days);
}

#[test]
fn unusual_ehr_access_after_a_step_makes_an_incident() {
    let mut correlator = correlator(INVENTORY);
    correlator.add_signal(step(1, 0, "10.0.0.1", "ws-02", Severity::Medium));
    let access = ehr_access(1, 300, "mallory", "p1");
    correlator.observe(&access);
    correlator.add_signal(Signal {
        signal_id: signal_id("ehr-break-glass", access.event_id),
        kind: SignalKind::Ehr,
        rule_id: "ehr-break-glass".into(),
        event_class: Class::EhrActivity,
        event_id: access.event_id,
        time: access.time,
        src_ip: None,
        dst_host: None,
        host: Some("ehr".into()),
        ..step(9, 300, "-", "-", Severity::High)
    });

    let incidents = correlator.incidents();

    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].path, ["ws-01", "ws-02"]);
    assert!(incidents[0].evidence.contains(&access.event_id));
    assert_eq!(incidents[0].patients_affected, 1);
    assert_eq!(incidents[0].triage, Triage::AnnualLog);
}

#[test]
fn addresses_resolve_to_the_host_seen_with_them_at_the_time() {
    let inventory = r#"
        [[asset]]
        host = "db-01"
        tier = "ephi_db"
    "#;
    let mut correlator = correlator(inventory);
    let origin = Origin {
        raw: "binding",
        provenance: "test:1",
        kind: SourceKind::Edr,
        format: "test",
    };
    let mut logon = Event::new(origin, at(-10), Class::Authentication, "logon");
    logon.src_host = Some("ws-77".into());
    logon.src_ip = Some("10.9.9.9".into());
    correlator.observe(&logon);
    correlator.add_signal(step(1, 0, "10.9.9.9", "db-01", Severity::High));

    let incidents = correlator.incidents();

    assert_eq!(incidents[0].path, ["ws-77", "db-01"]);
}

#[test]
fn signals_held_stay_within_bounds() {
    let settings = CorrelatorSettings {
        max_signals: 10,
        ..CorrelatorSettings::default()
    };
    let inventory = Arc::new(Inventory::empty());
    let mut correlator = Correlator::new(settings, inventory, Policy::builtin());
    for n in 0..25 {
        correlator.add_signal(step(n, i64::from(n), "10.0.0.1", "ws-02", Severity::Low));
    }

    let stats = correlator.stats();
    assert_eq!(stats.signals, 10);
    assert_eq!(stats.evicted_signals, 15);
}
