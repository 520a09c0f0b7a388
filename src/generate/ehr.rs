//! EHR accesses as FHIR R4 AuditEvents and as rows of the access-log CSV.
//!
//! An AuditEvent records a RESTful interaction (`type` `rest`, `subtype` the interaction)
//! with the DICOM action code, the clinician as the requesting human agent with the
//! workstation as its network address, the EHR application as the destination agent and
//! the observer, the patient as an entity in the patient role and, when the interaction
//! was on another resource, that resource as a second entity. Every access declares
//! treatment (`TREAT`) as its purpose, as the EHR client does by default. ward's
//! normalizer reads from this: `user`, `src_host` (the workstation), `host` (the EHR
//! application), `patient_id`, `ehr_action`, `ehr_resource` and `purpose_of_use`.
//!
//! The access log has the columns ward reads by default, in that order, with times in
//! UTC without a zone (the export converts from local time).

use chrono::{DateTime, Utc};
use fastrand::Rng;
use serde::Serialize;

use super::hospital::{DNS_DOMAIN, EHR_APP, NETBIOS_DOMAIN};
use super::records::{EhrAccess, EhrAction, guid};

/// The header of `ehr/access-log.csv`.
pub(super) const ACCESS_LOG_HEADER: &str =
    "access_time,user_id,workstation_id,patient_mrn,action,department,break_glass_reason";

/// The access-log row of `access`.
pub(super) fn to_csv_row(access: &EhrAccess) -> String {
    let action = match access.action {
        EhrAction::ReadChart => "Chart Review",
        EhrAction::ReadResults => "Results Review",
        EhrAction::UpdateFlowsheet => "Flowsheet Edit",
        EhrAction::OrderMedication => "New Order",
    };
    // Every value comes from the generator's own tables and holds no comma or quote, so
    // no field needs quoting.
    format!(
        "{},{},{},{},{action},{},",
        access.time.format("%Y-%m-%d %H:%M:%S"),
        access.user,
        access.workstation.to_uppercase(),
        access.patient,
        access.department,
    )
}

/// The AuditEvent of `access`, as one compact JSON line; `rng` draws its resource ids.
pub(super) fn to_fhir_line(rng: &mut Rng, access: &EhrAccess) -> String {
    let (interaction, action, other) = match access.action {
        EhrAction::ReadChart => ("read", "R", None),
        EhrAction::ReadResults => ("vread", "R", Some("Observation")),
        EhrAction::UpdateFlowsheet => ("update", "U", Some("Observation")),
        EhrAction::OrderMedication => ("create", "C", Some("MedicationRequest")),
    };
    let mut entity = vec![Entity {
        what: Reference {
            reference: format!("Patient/{}", access.patient),
        },
        r#type: coding(ENTITY_TYPE, "1", "Person"),
        role: coding(OBJECT_ROLE, "1", "Patient"),
    }];
    if let Some(kind) = other {
        entity.push(Entity {
            what: Reference {
                reference: format!("{kind}/{}", rng.u32(100_000..10_000_000)),
            },
            r#type: coding(ENTITY_TYPE, "2", "System Object"),
            role: coding(OBJECT_ROLE, "4", "Domain Resource"),
        });
    }

    let event = AuditEvent {
        resource_type: "AuditEvent",
        id: guid(rng, false),
        r#type: coding(EVENT_TYPE, "rest", "Restful Operation"),
        subtype: vec![coding(INTERACTION, interaction, interaction)],
        action,
        recorded: fhir_time(access.time),
        outcome: "0",
        purpose_of_event: vec![Concept {
            coding: vec![coding(ACT_REASON, "TREAT", "treatment")],
        }],
        agent: vec![
            Agent {
                r#type: Concept {
                    coding: vec![coding(SECURITY_ROLE, "humanuser", "human user")],
                },
                who: Who {
                    identifier: Identifier {
                        system: STAFF_IDS,
                        value: access.user.clone(),
                    },
                },
                requestor: true,
                network: Network {
                    address: format!("{}.{DNS_DOMAIN}", access.workstation),
                    r#type: "1",
                },
            },
            Agent {
                r#type: Concept {
                    coding: vec![coding(DICOM, "110152", "Destination Role ID")],
                },
                who: Who {
                    identifier: Identifier {
                        system: HOST_IDS,
                        value: EHR_APP.to_owned(),
                    },
                },
                requestor: false,
                network: Network {
                    address: format!("{EHR_APP}.{DNS_DOMAIN}"),
                    r#type: "1",
                },
            },
        ],
        source: Source {
            site: NETBIOS_DOMAIN,
            observer: Who {
                identifier: Identifier {
                    system: HOST_IDS,
                    value: EHR_APP.to_owned(),
                },
            },
            r#type: vec![coding(SOURCE_TYPE, "4", "Application Server")],
        },
        entity,
    };
    serde_json::to_string(&event).expect("an AuditEvent of strings and booleans always serializes")
}

const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const SECURITY_ROLE: &str = "http://terminology.hl7.org/CodeSystem/extra-security-role-type";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
/// Identifier systems of the generated hospital's staff accounts and hosts; `.invalid`
/// so they can never resolve.
const STAFF_IDS: &str = "https://nvh.invalid/fhir/sid/staff-account";
const HOST_IDS: &str = "https://nvh.invalid/fhir/sid/host";

/// FHIR `instant`: UTC with milliseconds.
fn fhir_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn coding(system: &'static str, code: &'static str, display: &'static str) -> Coding {
    Coding {
        system,
        code,
        display,
    }
}

/// The parts of an R4 AuditEvent the generator writes, in the specification's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEvent {
    resource_type: &'static str,
    id: String,
    r#type: Coding,
    subtype: Vec<Coding>,
    action: &'static str,
    recorded: String,
    outcome: &'static str,
    purpose_of_event: Vec<Concept>,
    agent: Vec<Agent>,
    source: Source,
    entity: Vec<Entity>,
}

#[derive(Serialize)]
struct Coding {
    system: &'static str,
    code: &'static str,
    display: &'static str,
}

/// A CodeableConcept.
#[derive(Serialize)]
struct Concept {
    coding: Vec<Coding>,
}

#[derive(Serialize)]
struct Agent {
    r#type: Concept,
    who: Who,
    requestor: bool,
    network: Network,
}

/// A Reference by identifier.
#[derive(Serialize)]
struct Who {
    identifier: Identifier,
}

#[derive(Serialize)]
struct Identifier {
    system: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Network {
    address: String,
    r#type: &'static str,
}

#[derive(Serialize)]
struct Source {
    site: &'static str,
    observer: Who,
    r#type: Vec<Coding>,
}

#[derive(Serialize)]
struct Entity {
    what: Reference,
    r#type: Coding,
    role: Coding,
}

/// A literal Reference.
#[derive(Serialize)]
struct Reference {
    reference: String,
}
