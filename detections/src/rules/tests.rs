use std::sync::Arc;

use ward_schemas::event::Origin;
use ward_schemas::{Class, Event, Severity, SignalKind, SourceKind, Timestamp};

use super::*;

const LOGON: &str = r#"
fn rule() {
    #{ id: "logon", title: "Network logon", severity: "medium", technique: "T1021",
       kind: "lateral", classes: ["authentication"], codes: ["4624"] }
}
fn detect(e) {
    if e.logon_type != 3 { return; }
    true
}
"#;

const ENDLESS: &str = r#"
fn rule() {
    #{ id: "endless", title: "Loops forever", severity: "low", technique: "T0000",
       kind: "host", classes: ["authentication"] }
}
fn detect(e) {
    let n = 0;
    loop { n += 1; }
}
"#;

const BURST: &str = r#"
fn rule() {
    #{ id: "burst", title: "Many patients", severity: "high", technique: "T1530",
       kind: "ehr", classes: ["ehr_activity"] }
}
fn detect(e, memory) {
    if memory.distinct(e.user, e.patient_id, 600) < 3 { return; }
    #{ summary: "many patients in ten minutes", severity: "critical" }
}
"#;

fn no_tiers() -> TierLookup {
    Arc::new(|_| None)
}

fn logon(n: u32, logon_type: i32) -> Arc<Event> {
    let raw = format!("logon {n}");
    let origin = Origin {
        raw: &raw,
        provenance: "test:1",
        kind: SourceKind::Edr,
        format: "test",
    };
    let mut event = Event::new(
        origin,
        Timestamp::from_micros(0),
        Class::Authentication,
        "logon",
    );
    event.event_code = Some("4624".into());
    event.host = Some("ws-02".into());
    event.src_ip = Some("10.0.0.1".into());
    event.user = Some("alice".into());
    event.logon_type = Some(logon_type);
    Arc::new(event)
}

fn access(n: u32, patient: &str) -> Arc<Event> {
    let raw = format!("access {n}");
    let origin = Origin {
        raw: &raw,
        provenance: "test:2",
        kind: SourceKind::Ehr,
        format: "test",
    };
    let at = Timestamp::from_micros(i64::from(n) * 1_000_000);
    let mut event = Event::new(origin, at, Class::EhrActivity, "read");
    event.user = Some("alice".into());
    event.patient_id = Some(patient.into());
    Arc::new(event)
}

#[test]
fn a_signal_takes_its_endpoints_from_the_event() {
    let mut rules = RuleSet::from_sources(
        &[("logon.rhai", LOGON)],
        RuleSettings::default(),
        no_tiers(),
    );
    assert!(rules.problems().is_empty(), "{:?}", rules.problems());

    let signals = rules.detect(&logon(1, 3));

    assert_eq!(signals.len(), 1);
    let signal = &signals[0];
    assert_eq!(signal.rule_id, "logon");
    assert_eq!(signal.kind, SignalKind::Lateral);
    assert_eq!(signal.src_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(
        signal.dst_host.as_deref(),
        Some("ws-02"),
        "recorded on the target"
    );
    assert_eq!(signal.user.as_deref(), Some("alice"));
    assert!(
        rules.detect(&logon(2, 2)).is_empty(),
        "an interactive logon is not lateral"
    );
}

#[test]
fn an_endless_rule_is_disabled_and_the_others_keep_firing() {
    let settings = RuleSettings {
        max_operations: 10_000,
        max_failures: 3,
    };
    let sources = [("endless.rhai", ENDLESS), ("logon.rhai", LOGON)];
    let mut rules = RuleSet::from_sources(&sources, settings, no_tiers());

    for n in 0..10 {
        let signals = rules.detect(&logon(n, 3));
        assert_eq!(signals.len(), 1, "the logon rule fires on event {n}");
    }

    let stats: HashMap<&str, &RuleStats> = rules.stats().collect();
    assert!(stats["endless"].disabled);
    assert_eq!(
        stats["endless"].failures, 3,
        "not called again once disabled"
    );
    assert_eq!(stats["endless"].evaluated, 3);
    assert!(!stats["logon"].disabled);
    assert_eq!(stats["logon"].fired, 10);
}

#[test]
fn a_rule_that_does_not_compile_is_reported_with_its_line() {
    let broken = "fn rule() { #{ id: \"broken\" } }\nfn detect(e) {\n  let x = ;\n}\n";
    let sources = [("broken.rhai", broken), ("logon.rhai", LOGON)];
    let rules = RuleSet::from_sources(&sources, RuleSettings::default(), no_tiers());

    assert_eq!(rules.rules().count(), 1);
    let problem = &rules.problems()[0];
    assert_eq!(problem.path, Path::new("broken.rhai"));
    assert_eq!(problem.line, Some(3));
}

#[test]
fn bad_metadata_is_reported() {
    let bad = LOGON.replace("\"medium\"", "\"urgent\"");
    let rules = RuleSet::from_sources(&[("logon.rhai", &bad)], RuleSettings::default(), no_tiers());

    assert_eq!(rules.rules().count(), 0);
    assert!(rules.problems()[0].message.contains("urgent"));
}

#[test]
fn scripts_cannot_reach_files_or_eval() {
    let import = LOGON.replace(
        "fn detect(e) {",
        "import \"/etc/passwd\" as p;\nfn detect(e) {",
    );
    let eval = LOGON.replace("true\n}", "eval(\"true\")\n}");
    let sources = [
        ("import.rhai", import.as_str()),
        ("eval.rhai", eval.as_str()),
    ];
    let mut rules = RuleSet::from_sources(&sources, RuleSettings::default(), no_tiers());

    // The import is a top-level statement, which is never run; eval fails to compile.
    assert!(
        rules
            .problems()
            .iter()
            .any(|p| p.path == Path::new("eval.rhai"))
    );
    let signals = rules.detect(&logon(1, 3));
    assert_eq!(signals.len(), 1, "the import never ran and the rule works");
}

#[test]
fn memory_counts_patients_per_user_over_time() {
    let mut rules = RuleSet::from_sources(
        &[("burst.rhai", BURST)],
        RuleSettings::default(),
        no_tiers(),
    );

    assert!(rules.detect(&access(0, "p1")).is_empty());
    assert!(rules.detect(&access(1, "p2")).is_empty());
    assert!(rules.detect(&access(2, "p2")).is_empty());
    let signals = rules.detect(&access(3, "p3"));

    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].severity, Severity::Critical);
    assert_eq!(signals[0].patient_id.as_deref(), Some("p3"));
    assert_eq!(
        signals[0].summary.as_deref(),
        Some("many patients in ten minutes")
    );
}

#[test]
fn folders_reload_when_a_rule_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("logon.rhai"), LOGON).expect("write rule");
    let mut rules =
        RuleSet::load(dir.path(), RuleSettings::default(), no_tiers()).expect("load rules");
    assert_eq!(rules.rules().count(), 1);
    assert!(!rules.reload_if_changed().expect("check"));

    let burst = BURST.replace("\"burst\"", "\"patients\"");
    std::fs::write(dir.path().join("patients.rhai"), burst).expect("write rule");

    assert!(rules.reload_if_changed().expect("reload"));
    let ids: Vec<&str> = rules.rules().map(|rule| rule.id.as_str()).collect();
    assert_eq!(ids, ["logon", "patients"]);
}
