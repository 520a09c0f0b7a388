//! Tests of the FHIR AuditEvent normalizer, on fixtures written for them.

use ward_schemas::{EventId, Outcome};

use super::*;
use crate::{FormatChoice, Normalizer};

/// An R4 vread of a patient by user 95 from a workstation, written for these tests.
const R4_REST: &str = r#"{
  "resourceType": "AuditEvent",
  "id": "test-rest",
  "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
       "code": "rest", "display": "Restful Operation"},
  "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "vread"}],
  "action": "R",
  "recorded": "2013-06-20T23:42:24Z",
  "outcome": "0",
  "agent": [
{"type": {"coding": [{"code": "humanuser", "display": "human user"}]},
 "who": {"identifier": {"value": "95"}}, "altId": "601847123",
 "name": "Testperson Fakename", "requestor": true},
{"type": {"coding": [{"code": "110153", "display": "Source Role ID"}]},
 "who": {"identifier": {"value": "2.16.840.1.113883.4.2"}}, "requestor": false,
 "network": {"address": "Workstation1.ehr.familyclinic.com", "type": "1"}}
  ],
  "source": {"observer": {"identifier": {"value": "fhir01.test.example"}}},
  "entity": [{"what": {"reference": "Patient/example/_history/1"},
          "type": {"code": "2", "display": "System Object"}}]
}"#;

/// The same access as R5 writes it.
const R5_REST: &str = r#"{"resourceType": "AuditEvent", "id": "test-rest-r5",
  "category": [{"coding": [{"code": "rest", "display": "Restful Operation"}]}],
  "code": {"coding": [{"code": "vread"}]},
  "action": "R", "recorded": "2013-06-20T23:42:24Z",
  "outcome": {"code": {"code": "0", "display": "Success"}},
  "agent": [
{"type": {"coding": [{"code": "humanuser"}]}, "who": {"identifier": {"value": "95"},
 "display": "Testperson Fakename"}, "requestor": true},
{"type": {"coding": [{"code": "110153"}]}, "requestor": false,
 "networkString": "Workstation1.ehr.familyclinic.com"}],
  "source": {"observer": {"identifier": {"value": "fhir01.test.example"}}},
  "entity": [{"what": {"reference": "Patient/example/_history/1"},
          "role": {"coding": [{"code": "1", "display": "Patient"}]}}]}"#;

/// An R5 emergency override declared by practitioner f001.
const R5_BREAK_GLASS: &str = r#"{"resourceType": "AuditEvent", "id": "test-btg",
  "category": [{"coding": [{"code": "110113", "display": "Security Alert"}]}],
  "code": {"coding": [{"code": "110127", "display": "Emergency Override Started"}]},
  "action": "E", "recorded": "2013-09-22T00:08:00Z",
  "outcome": {"code": {"code": "0"}},
  "authorization": [{"coding": [{"code": "ETREAT", "display": "Emergency Treatment"}]}],
  "agent": [{"who": {"reference": "Practitioner/f001"}, "requestor": true,
         "networkString": "custodian.test.example"}],
  "source": {"observer": {"display": "Accounting of Disclosures Application"}},
  "entity": [{"what": {"reference": "Patient/example"},
          "role": {"coding": [{"code": "1"}]}}]}"#;

fn run(text: &str) -> Result<Vec<Event>, NormalizeError> {
    let record = Record::new(text.as_bytes(), "fhir-test.json:1");
    let object = Object::parse(record.bytes).expect("test fixtures are JSON objects");
    let mut out = Vec::new();
    normalize(&object, &record, &mut out)?;
    Ok(out)
}

fn one(text: &str) -> Event {
    let mut events = run(text).expect("the fixture normalizes");
    assert_eq!(events.len(), 1);
    events.remove(0)
}

/// The columns an R4 and an R5 record of the same access must agree on.
fn access_columns(event: &Event) -> [Option<String>; 7] {
    [
        event.patient_id.clone(),
        event.user.clone(),
        event.ehr_action.clone(),
        event.src_host.clone(),
        event.host.clone(),
        event.ehr_resource.clone(),
        event.outcome.map(|o| o.as_str().to_owned()),
    ]
}

#[test]
fn r4_rest_read_maps_patient_user_and_workstation() {
    let event = one(R4_REST);
    assert_eq!(event.class, Class::EhrActivity);
    assert_eq!(event.activity, "read");
    assert_eq!(event.time.to_string(), "2013-06-20T23:42:24.000000Z");
    assert_eq!(event.event_code.as_deref(), Some("rest"));
    assert_eq!(event.patient_id.as_deref(), Some("example"));
    assert_eq!(event.user.as_deref(), Some("95"));
    assert_eq!(event.ehr_action.as_deref(), Some("read"));
    assert_eq!(event.src_host.as_deref(), Some("workstation1"));
    assert_eq!(event.outcome, Some(Outcome::Success));
    assert_eq!(event.host.as_deref(), Some("fhir01"));
    assert_eq!(event.ehr_resource.as_deref(), Some("Patient"));
    assert_eq!(event.break_glass, None);
    assert_eq!(event.event_id, EventId::of_record(R4_REST.as_bytes()));

    let mut json = serde_json::to_value(&event).expect("an event serializes");
    json.as_object_mut()
        .expect("an event is an object")
        .remove("raw");
    assert!(!json.to_string().contains("Fakename"), "{json}");
}

#[test]
fn r5_rest_read_gives_the_same_columns() {
    let (r4, r5) = (one(R4_REST), one(R5_REST));
    assert_eq!(access_columns(&r5), access_columns(&r4));
    assert_eq!(
        (r5.class, r5.activity.as_str()),
        (Class::EhrActivity, "read")
    );
    assert_eq!(r5.event_code.as_deref(), Some("vread"));
}

#[test]
fn r5_break_glass_start() {
    let event = one(R5_BREAK_GLASS);
    assert_eq!(
        (event.class, event.activity.as_str()),
        (Class::EhrActivity, "break_glass_start")
    );
    assert_eq!(event.break_glass, Some(true));
    assert_eq!(event.purpose_of_use.as_deref(), Some("ETREAT"));
    assert_eq!(event.user.as_deref(), Some("f001"));
    assert_eq!(event.patient_id.as_deref(), Some("example"));
    assert_eq!(event.src_host.as_deref(), Some("custodian"));
    assert_eq!(event.event_code.as_deref(), Some("110127"));
    // A display name is not a host name.
    assert_eq!(event.host, None);
}

#[test]
fn r4_login_is_authentication_from_an_ip() {
    let login = r#"{"resourceType": "AuditEvent",
  "type": {"code": "110114", "display": "User Authentication"},
  "subtype": [{"code": "110122", "display": "Login"}],
  "action": "E", "recorded": "2013-06-20T23:41:23Z", "outcome": "0",
  "agent": [{"type": {"coding": [{"code": "humanuser"}]}, "who": {"identifier": {"value": "95"}},
         "requestor": true, "network": {"address": "127.0.0.1", "type": "2"}}]}"#;
    let event = one(login);
    assert_eq!(
        (event.class, event.activity.as_str()),
        (Class::Authentication, "logon")
    );
    assert_eq!(event.src_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(event.user.as_deref(), Some("95"));
    assert_eq!(event.ehr_action, None);
}

#[test]
fn r4_disclosure_declares_a_normal_purpose_and_a_destination() {
    let disclosure = r#"{"resourceType": "AuditEvent",
  "type": {"code": "110106", "display": "Export"}, "action": "R",
  "recorded": "2013-09-22T00:08:00Z", "outcome": "8",
  "purposeOfEvent": [{"coding": [{"code": "HMARKT"}]}],
  "agent": [{"who": {"identifier": {"value": "exporter@test.example"}}, "requestor": true},
        {"type": {"coding": [{"code": "110152"}]}, "requestor": false,
         "network": {"address": "marketing.test.example", "type": "1"}}],
  "entity": [{"what": {"identifier": {"value": "TEST-77^^^&1.2.3&ISO"}},
          "role": {"code": "1", "display": "Patient"}},
         {"what": {"reference": "DocumentReference/doc1"}}]}"#;
    let event = one(disclosure);
    assert_eq!(event.class, Class::EhrActivity);
    assert_eq!(event.outcome, Some(Outcome::Failure));
    assert_eq!(event.purpose_of_use.as_deref(), Some("HMARKT"));
    assert_eq!(event.break_glass, Some(false));
    assert_eq!(event.dst_host.as_deref(), Some("marketing"));
    assert_eq!(event.patient_id.as_deref(), Some("TEST-77"));
    assert_eq!(event.ehr_resource.as_deref(), Some("DocumentReference"));
    assert_eq!(event.user.as_deref(), Some("exporter"));
    assert_eq!(event.user_domain.as_deref(), Some("test.example"));
}

#[test]
fn bundle_entries_are_events_with_their_own_ids() {
    let bundle = format!(
        r#"{{"resourceType": "Bundle", "type": "collection", "entry": [
  {{"fullUrl": "urn:uuid:1", "resource": {R4_REST}}},
  {{"resource": {{"resourceType": "OperationOutcome", "issue": []}}}},
  {{"resource": {R5_BREAK_GLASS}}}]}}"#
    );
    let events = run(&bundle).expect("the fixture normalizes");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_id, EventId::of_record(R4_REST.as_bytes()));
    assert_eq!(
        events[1].event_id,
        EventId::of_record(R5_BREAK_GLASS.as_bytes())
    );
    assert_ne!(events[0].event_id, events[1].event_id);
    assert_eq!(events[0].raw, R4_REST);
    assert_eq!(events[0].provenance, "fhir-test.json:1#entry0");
    assert_eq!(events[1].provenance, "fhir-test.json:1#entry2");
    assert_eq!(events[1].break_glass, Some(true));
}

#[test]
fn other_resources_and_empty_bundles_are_not_events() {
    let patient = r#"{"resourceType": "Patient", "name": [{"family": "Fakename"}]}"#;
    let err = run(patient).expect_err("the record is refused");
    assert!(matches!(err, NormalizeError::NotAnEvent { .. }), "{err}");
    assert!(!err.to_string().contains("Fakename"), "{err}");

    let bundle =
        r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}"#;
    assert!(matches!(
        run(bundle),
        Err(NormalizeError::NotAnEvent { .. })
    ));
}

#[test]
fn recorded_is_required_and_must_be_a_time() {
    let missing = r#"{"resourceType": "AuditEvent", "action": "R"}"#;
    let err = run(missing).expect_err("the record is refused");
    assert_eq!(
        err,
        NormalizeError::MissingField {
            format: FORMAT,
            field: "recorded"
        }
    );
    let bad = r#"{"resourceType": "AuditEvent", "recorded": "Fakename's birthday"}"#;
    let err = run(bad).expect_err("the record is refused");
    assert!(matches!(
        err,
        NormalizeError::InvalidField {
            field: "recorded",
            ..
        }
    ));
    assert!(!err.to_string().contains("Fakename"), "{err}");
}

#[test]
fn detected_through_the_normalizer_and_dead_lettered_whole() {
    let (mut events, mut dead) = (Vec::new(), Vec::new());
    let normalizer = Normalizer::new(FormatChoice::Auto);
    normalizer.normalize(
        &Record::new(R5_REST.as_bytes(), "r5.json:1"),
        &mut events,
        &mut dead,
    );
    let bad_bundle = format!(
        r#"{{"resourceType": "Bundle", "entry": [{{"resource": {R4_REST}}},
  {{"resource": {{"resourceType": "AuditEvent"}}}}]}}"#
    );
    normalizer.normalize(
        &Record::new(bad_bundle.as_bytes(), "b.json:1"),
        &mut events,
        &mut dead,
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].source_format, "fhir-audit-event");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].raw, bad_bundle.as_bytes());
}
