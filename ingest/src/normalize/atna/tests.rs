//! Tests of the ATNA normalizer, on fixtures written for them (fake patients).

use ward_schemas::{EventId, Outcome};

use super::*;

/// A patient record update sent by an HL7 gateway, with a fake patient.
const PATIENT_RECORD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<AuditMessage xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <EventIdentification EventActionCode="U" EventDateTime="2024-05-02T10:15:00.250+02:00"
  EventOutcomeIndicator="0">
<EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/>
  </EventIdentification>
  <ActiveParticipant UserID="ADTSEND|TESTHOSP" UserIsRequestor="true" UserTypeCode="2"
  NetworkAccessPointID="ADT-GW01.test.example" NetworkAccessPointTypeCode="1">
<RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/>
  </ActiveParticipant>
  <ActiveParticipant UserID="ARCHIVE|TESTHOSP" UserIsRequestor="false"
  NetworkAccessPointID="10.20.0.5" NetworkAccessPointTypeCode="2">
<RoleIDCode csd-code="110152" codeSystemName="DCM" originalText="Destination Role ID"/>
  </ActiveParticipant>
  <AuditSourceIdentification AuditSourceID="pacs-test01">
<AuditSourceTypeCode csd-code="4"/>
  </AuditSourceIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="TEST-4711^^^TESTHOSP"
  ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
<ParticipantObjectIDTypeCode csd-code="2" originalText="Patient Number"/>
<ParticipantObjectName>FAKENAME^TESTPATIENT</ParticipantObjectName>
  </ParticipantObjectIdentification>
</AuditMessage>"#;

/// A viewer reading a study: a person and an AE title both requestors, the archive's
/// web service as the other participant, and a failed outcome.
const INSTANCES_ACCESSED: &str = r#"<AuditMessage>
  <EventIdentification EventActionCode="R" EventDateTime="2024-05-02T08:30:00Z"
  EventOutcomeIndicator="4">
<EventID csd-code="110103" originalText="DICOM Instances Accessed"/>
  </EventIdentification>
  <ActiveParticipant UserID="VIEWER01" UserIsRequestor="true" UserTypeCode="2"
  NetworkAccessPointID="viewer-host" NetworkAccessPointTypeCode="1">
<UserIDTypeCode csd-code="110119" originalText="Station AE Title"/>
  </ActiveParticipant>
  <ActiveParticipant UserID="rad.tester" UserName="Tester^Rad" UserIsRequestor="true"
  UserTypeCode="1" NetworkAccessPointID="10.1.2.3" NetworkAccessPointTypeCode="2">
<UserIDTypeCode csd-code="113871" originalText="Person ID"/>
  </ActiveParticipant>
  <ActiveParticipant UserID="http://pacs-web:8080/archive/studies/1.2.3" UserIsRequestor="false"
  NetworkAccessPointID="pacs-web.test.example" NetworkAccessPointTypeCode="1">
<UserIDTypeCode csd-code="12" originalText="URI"/>
  </ActiveParticipant>
  <AuditSourceIdentification AuditSourceID="pacs-test01"/>
  <ParticipantObjectIdentification ParticipantObjectID="1.2.3.999.1"
  ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">
<ParticipantObjectIDTypeCode csd-code="110180" originalText="Study Instance UID"/>
  </ParticipantObjectIdentification>
  <ParticipantObjectIdentification ParticipantObjectID="TEST-0815"
  ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
<ParticipantObjectIDTypeCode csd-code="2" originalText="Patient Number"/>
<ParticipantObjectName>FAKENAME^OTHERPATIENT</ParticipantObjectName>
  </ParticipantObjectIdentification>
</AuditMessage>"#;

fn normalize_one(text: &str) -> Result<Event, NormalizeError> {
    let record = Record::new(text.as_bytes(), "atna-test.xml:1");
    let mut out = Vec::new();
    normalize(&record, &mut out)?;
    assert_eq!(out.len(), 1);
    Ok(out.remove(0))
}

/// Asserts that `text` is in `raw` and in no other column.
fn only_in_raw(event: &Event, text: &str) {
    assert!(event.raw.contains(text));
    let mut json = serde_json::to_value(event).expect("an event serializes");
    json.as_object_mut()
        .expect("an event is an object")
        .remove("raw");
    assert!(!json.to_string().contains(text), "{json}");
}

#[test]
fn patient_record_maps_patient_user_and_hosts() {
    let event = normalize_one(PATIENT_RECORD).expect("the fixture normalizes");
    assert_eq!(event.class, Class::EhrActivity);
    assert_eq!(event.time.to_string(), "2024-05-02T08:15:00.250000Z");
    assert_eq!(event.event_code.as_deref(), Some("110110"));
    assert_eq!(
        (event.activity.as_str(), event.ehr_action.as_deref()),
        ("update", Some("update"))
    );
    assert_eq!(event.outcome, Some(Outcome::Success));
    assert_eq!(event.patient_id.as_deref(), Some("TEST-4711"));
    assert_eq!(event.ehr_resource.as_deref(), Some("Patient"));
    assert_eq!(event.user.as_deref(), Some("adtsend|testhosp"));
    assert_eq!(event.src_host.as_deref(), Some("adt-gw01"));
    assert_eq!(event.dst_ip.as_deref(), Some("10.20.0.5"));
    assert_eq!(event.host.as_deref(), Some("pacs-test01"));
    assert_eq!(event.break_glass, None);
    assert_eq!(
        event.event_id,
        EventId::of_record(PATIENT_RECORD.as_bytes())
    );
    only_in_raw(&event, "FAKENAME");
}

#[test]
fn instances_accessed_prefers_the_person_and_keeps_names_out() {
    let event = normalize_one(INSTANCES_ACCESSED).expect("the fixture normalizes");
    assert_eq!(event.class, Class::EhrActivity);
    assert_eq!(event.ehr_action.as_deref(), Some("read"));
    assert_eq!(event.outcome, Some(Outcome::Failure));
    assert_eq!(event.user.as_deref(), Some("rad.tester"));
    assert_eq!(event.src_ip.as_deref(), Some("10.1.2.3"));
    assert_eq!(event.dst_host.as_deref(), Some("pacs-web"));
    assert_eq!(event.patient_id.as_deref(), Some("TEST-0815"));
    assert_eq!(event.ehr_resource.as_deref(), Some("Study Instance UID"));
    only_in_raw(&event, "FAKENAME");
    only_in_raw(&event, "Tester^Rad");
}

#[test]
fn syslog_header_is_kept_in_raw_and_lends_its_time() {
    let message = PATIENT_RECORD.replace(r#"EventDateTime="2024-05-02T10:15:00.250+02:00""#, "");
    let record = format!("<85>1 2024-09-03T13:03:17Z pacs-test02 dcm4chee - - - {message}");
    let event = normalize_one(&record).expect("the fixture normalizes");
    assert_eq!(event.time.to_string(), "2024-09-03T13:03:17.000000Z");
    assert_eq!(event.raw, record);
    assert_eq!(event.event_id, EventId::of_record(record.as_bytes()));
    assert_eq!(event.patient_id.as_deref(), Some("TEST-4711"));
    assert_eq!(event.host.as_deref(), Some("pacs-test01"));
}

#[test]
fn message_without_any_time_is_refused() {
    let message = PATIENT_RECORD.replace(r#"EventDateTime="2024-05-02T10:15:00.250+02:00""#, "");
    let err = normalize_one(&message).expect_err("the record is refused");
    assert_eq!(
        err,
        NormalizeError::MissingField {
            format: FORMAT,
            field: "EventDateTime"
        }
    );
}

#[test]
fn emergency_override_is_break_glass_not_an_alert() {
    let message = r#"<AuditMessage>
  <EventIdentification EventActionCode="E" EventDateTime="2024-05-02T09:00:00Z"
  EventOutcomeIndicator="0">
<EventID csd-code="110113" originalText="Security Alert"/>
<EventTypeCode csd-code="110127" originalText="Emergency Override Started"/>
  </EventIdentification>
  <ActiveParticipant UserID="dr.tester" UserIsRequestor="true" UserTypeCode="1"/>
  <AuditSourceIdentification AuditSourceID="pacs-test01"/>
</AuditMessage>"#;
    let event = normalize_one(message).expect("the fixture normalizes");
    assert_eq!(
        (event.class, event.activity.as_str()),
        (Class::EhrActivity, "break_glass_start")
    );
    assert_eq!(event.break_glass, Some(true));
    assert_eq!(event.user.as_deref(), Some("dr.tester"));
}

#[test]
fn security_alert_is_a_finding_named_by_its_type() {
    let message = r#"<AuditMessage>
  <EventIdentification EventActionCode="E" EventDateTime="2024-05-02T09:00:00Z"
  EventOutcomeIndicator="4">
<EventID csd-code="110113" originalText="Security Alert"/>
<EventTypeCode csd-code="110126" originalText="Node Authentication"/>
  </EventIdentification>
  <AuditSourceIdentification AuditSourceID="pacs-test01"/>
</AuditMessage>"#;
    let event = normalize_one(message).expect("the fixture normalizes");
    assert_eq!(
        (event.class, event.activity.as_str()),
        (Class::DetectionFinding, "alert")
    );
    assert_eq!(event.signature.as_deref(), Some("Node Authentication"));
    assert_eq!(event.outcome, Some(Outcome::Failure));
    assert_eq!(event.ehr_action, None);
}

#[test]
fn rfc3881_spellings_read_the_same() {
    let message = r#"<AuditMessage xmlns="urn:example:audit">
  <EventIdentification EventActionCode="E" EventDateTime="2010-01-01T00:00:00Z"
  EventOutcomeIndicator="0">
<EventID code="110114" displayName="UserAuthenticated"/>
<EventTypeCode code="110123" displayName="Logout"/>
  </EventIdentification>
  <ActiveParticipant UserID="TESTDOM\nurse.tester" UserIsRequestor="true"
  NetworkAccessPointID="WS-ED-04.test.example" NetworkAccessPointTypeCode="1"/>
  <AuditSourceIdentification AuditSourceID="ehr-test01"/>
</AuditMessage>"#;
    let event = normalize_one(message).expect("the fixture normalizes");
    assert_eq!(
        (event.class, event.activity.as_str()),
        (Class::Authentication, "logoff")
    );
    assert_eq!(event.event_code.as_deref(), Some("110114"));
    assert_eq!(event.user.as_deref(), Some("nurse.tester"));
    assert_eq!(event.user_domain.as_deref(), Some("testdom"));
    assert_eq!(event.src_host.as_deref(), Some("ws-ed-04"));
}

#[test]
fn xml_errors_give_a_position_and_no_text() {
    // roxmltree's own message would quote both tag names.
    let broken = "<AuditMessage>\n  <EventIdentification></FAKENAME>\n</AuditMessage>";
    let err = normalize_one(broken).expect_err("the record is refused");
    let message = err.to_string();
    assert!(matches!(err, NormalizeError::Malformed { .. }), "{message}");
    assert!(message.contains("line 2 column"), "{message}");
    assert!(
        !message.contains("FAKENAME") && !message.contains("Event"),
        "{message}"
    );

    let entity = normalize_one("<AuditMessage>&FAKENAME;</AuditMessage>")
        .expect_err("the record is refused");
    assert!(!entity.to_string().contains("FAKENAME"), "{entity}");
    let truncated = normalize_one("<AuditMessage><EventIdentification FAKENAME")
        .expect_err("the record is refused");
    assert!(
        truncated.to_string().ends_with("truncated XML"),
        "{truncated}"
    );
}

#[test]
fn dtds_and_other_roots_are_refused() {
    let dtd = r#"<!DOCTYPE a [<!ENTITY x "y">]><AuditMessage>&x;</AuditMessage>"#;
    assert!(matches!(
        normalize_one(dtd),
        Err(NormalizeError::Malformed { .. })
    ));
    let other = normalize_one("<?xml version=\"1.0\"?><Patient><name>X</name></Patient>");
    assert!(matches!(other, Err(NormalizeError::NotAnEvent { .. })));
}
