//! HL7 FHIR AuditEvent, R4 and R5, alone or in a Bundle.
//!
//! Each record is read as whichever version its fields say, field by field ([`elements`]),
//! so R4 and R5 AuditEvents of the same access give the same columns except `event_code`,
//! which each version places differently. A `Bundle` yields one event per AuditEvent entry;
//! each such event's `raw` and `event_id` are the entry resource's own JSON text and its
//! provenance is the bundle's with `#entry<i>` appended. Entries of other resource types are
//! not events and are skipped; a Bundle with no AuditEvent at all, and any other resource,
//! is refused as not an event. One AuditEvent entry that cannot be read makes the whole
//! Bundle a dead letter, so the record is kept whole. Classes and activities follow the
//! DICOM vocabulary shared with ATNA ([`vocab`]).
//!
//! Mapping, R4 first and R5 where it differs:
//! - `time` (required): `recorded`.
//! - `event_code`: `type.code`; R5 `code.coding[0].code`.
//! - `activity`, `ehr_action`: the `action` verb, else the REST interaction (`vread` is a
//!   read); see [`vocab`] for authentication, alerts and break-glass.
//! - `outcome`: `outcome` `0` success, `4`/`8`/`12` failure; R5 `outcome.code.code`.
//! - `severity`: R5 `severity`, a syslog level, on OCSF's scale.
//! - `signature` (security alerts): `subtype[0]`; R5 `code`, display else code.
//! - `user`: the requestor's `who.identifier.value`, else `altId`, else `who.display`, else
//!   the id of `who.reference`.
//! - `src_host` / `src_ip`: `network.address` read by `network.type`; R5 `networkString`
//!   or `networkUri`. `dst_host` / `dst_ip`: the same, of the destination (110152) agent.
//! - `host`: `source.observer` identifier value, else its display.
//! - `patient_id`: R5 `patient`, else an entity whose `what` references `Patient/<id>`, else
//!   the identifier of an entity in the patient role (`1`).
//! - `ehr_resource`: the resource type another entity references, else `Patient`, else an
//!   entity's role or type display; left empty for events that are not record access and
//!   involve no patient.
//! - `purpose_of_use`: `purposeOfEvent`, then agents' `purposeOfUse`; R5 `authorization`,
//!   then agents' `authorization`.
//!
//! Design choices:
//! - The user is the requestor agent, a person among several; with no requestor, the first
//!   `humanuser` agent. R4 `agent.name` is a person's name and is never stored.
//! - Network locations come first from the requestor, then from source-role (110153) agents
//!   and then from any agent that is not a destination: IHE profiles put the client machine
//!   on the source agent when the requestor is a person. Host names keep their short name.
//! - `host` is taken only if it looks like a host name; an observer displayed as free text
//!   ("Accounting of Disclosures Application") is not a host.
//! - A patient id written as an HL7 v2 CX value keeps only its id part (see
//!   [`vocab::patient_number`]).
//! - `break_glass` is true for emergency override events (110127, 110128), emergency
//!   purposes (`ETREAT`, `BTG`) and codings that say break-glass; false when a purpose of
//!   use is declared and is not an emergency; otherwise unknown (`None`), since AuditEvent
//!   has no field that says an access was normal.

mod elements;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use ward_schemas::{Class, Event, Severity};

use self::elements::{Agent, code, codes, codings, display, objects, reference_parts};
use super::atna::vocab::{self, Kind};
use crate::json::{Object, Value};
use crate::record::Record;
use crate::{Format, NormalizeError, timefmt};

const FORMAT: Format = Format::FhirAuditEvent;

/// Normalizes an AuditEvent into one event, or a Bundle into one per AuditEvent entry.
pub(crate) fn normalize(
    object: &Object<'_>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    match object.get("resourceType").and_then(Value::text).as_deref() {
        Some("AuditEvent") => normalize_audit_event(object, record, out),
        Some("Bundle") => normalize_bundle(record, out),
        Some(_) => Err(NormalizeError::NotAnEvent {
            format: FORMAT,
            reason: "a FHIR resource other than AuditEvent or Bundle".into(),
        }),
        None => Err(NormalizeError::MissingField {
            format: FORMAT,
            field: "resourceType",
        }),
    }
}

/// The parts of a Bundle ward reads: each entry's resource, as its exact source text.
#[derive(Deserialize)]
struct Bundle<'a> {
    /// `Bundle.entry`, in order.
    #[serde(borrow, default)]
    entry: Vec<BundleEntry<'a>>,
}

/// One `Bundle.entry`.
#[derive(Deserialize)]
struct BundleEntry<'a> {
    /// `entry.resource`, byte for byte as in the record.
    #[serde(borrow, default)]
    resource: Option<&'a RawValue>,
}

/// One event per AuditEvent entry of a Bundle.
fn normalize_bundle(record: &Record<'_>, out: &mut Vec<Event>) -> Result<(), NormalizeError> {
    let bundle: Bundle<'_> =
        serde_json::from_slice(record.bytes).map_err(|err| NormalizeError::json(FORMAT, &err))?;

    let before = out.len();
    for (index, entry) in bundle.entry.iter().enumerate() {
        let Some(resource) = entry.resource else {
            continue;
        };
        let provenance = format!("{}#entry{index}", record.provenance);
        let entry_record = Record {
            bytes: resource.get().as_bytes(),
            provenance: &provenance,
            ..*record
        };
        let object =
            Object::parse(entry_record.bytes).map_err(|err| NormalizeError::json(FORMAT, &err))?;
        if object.get("resourceType").and_then(Value::text).as_deref() == Some("AuditEvent") {
            normalize_audit_event(&object, &entry_record, out)?;
        } else {
            tracing::trace!(provenance = %provenance, "skipped a non-AuditEvent bundle entry");
        }
    }

    if out.len() == before {
        return Err(NormalizeError::NotAnEvent {
            format: FORMAT,
            reason: "a FHIR Bundle with no AuditEvent entry".into(),
        });
    }
    Ok(())
}

/// One event from one AuditEvent resource.
fn normalize_audit_event(
    object: &Object<'_>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    let origin = super::origin(record, FORMAT)?;
    let missing = NormalizeError::MissingField {
        format: FORMAT,
        field: "recorded",
    };
    let recorded = object
        .get("recorded")
        .and_then(Value::text)
        .ok_or(missing)?;
    let time = timefmt::parse_iso(&recorded).ok_or(NormalizeError::InvalidField {
        format: FORMAT,
        field: "recorded",
        reason: "not an ISO 8601 date-time",
    })?;

    // R4 `type` + `subtype`, R5 `category` + `code`: the most specific code is last.
    let mut type_codings = codings(object.get("type"));
    type_codings.extend(codings(object.get("category")));
    let mut specific = codings(object.get("subtype"));
    specific.extend(codings(object.get("code")));
    let all_codings: Vec<&Object<'_>> = type_codings.iter().chain(&specific).copied().collect();
    let kind = Kind::of_codes(all_codings.iter().filter_map(|c| code(c)));
    let verb = object
        .get("action")
        .and_then(Value::text)
        .and_then(|action| vocab::action_verb(&action))
        .or_else(|| {
            specific
                .iter()
                .filter_map(|c| code(c))
                .find_map(|c| rest_verb(&c))
        });
    let (class, activity) = kind.class_and_activity(verb);

    let mut event = Event::new(origin, time, class, activity);
    event.observed_time = record.received;
    let event_code = match object.get("type") {
        Some(_) => type_codings.first(),
        None => specific.first(),
    };
    event.event_code = event_code.and_then(|c| code(c)).map(Cow::into_owned);
    event.outcome = outcome_code(object).and_then(|c| vocab::outcome(&c));
    event.severity = object
        .get("severity")
        .and_then(Value::text)
        .and_then(|s| severity(&s));
    if class == Class::EhrActivity {
        event.ehr_action = verb.map(str::to_owned);
    }
    if class == Class::DetectionFinding {
        let coding = specific.first().or(type_codings.first());
        event.signature = coding
            .and_then(|c| display(c).or_else(|| code(c)))
            .map(Cow::into_owned);
    }

    let agents = Agent::all(object);
    fill_agents(&mut event, &agents);
    fill_observer(&mut event, object);
    fill_entities(&mut event, object);
    fill_purpose(&mut event, object, &agents, kind, &all_codings);

    out.push(event);
    Ok(())
}

/// R4 `outcome` is the code itself; R5 `outcome` is an object with a `code` Coding.
fn outcome_code<'v>(object: &'v Object<'_>) -> Option<Cow<'v, str>> {
    match object.get("outcome")? {
        Value::Object(outcome) => codings(outcome.get("code")).first().and_then(|c| code(c)),
        other => other.text(),
    }
}

/// The verb of a FHIR RESTful interaction code, for AuditEvents that omit `action`.
fn rest_verb(interaction: &str) -> Option<&'static str> {
    match interaction {
        "read" | "vread" | "search" | "search-type" | "search-system" | "history"
        | "history-instance" | "history-type" => Some("read"),
        "create" => Some("create"),
        "update" | "patch" => Some("update"),
        "delete" => Some("delete"),
        "operation" | "batch" | "transaction" => Some("execute"),
        _ => None,
    }
}

/// R5 `severity`, a syslog level, on OCSF's scale.
fn severity(level: &str) -> Option<Severity> {
    match level.trim().to_ascii_lowercase().as_str() {
        "emergency" | "alert" | "critical" => Some(Severity::Critical),
        "error" => Some(Severity::High),
        "warning" => Some(Severity::Medium),
        "notice" => Some(Severity::Low),
        "informational" | "debug" => Some(Severity::Informational),
        _ => None,
    }
}

/// Sets `user` from the requestor, `src_*` and `dst_*` from the agents' networks.
fn fill_agents(event: &mut Event, agents: &[Agent<'_, '_>]) {
    let requestor = agents
        .iter()
        .find(|a| a.is_requestor() && a.is_human())
        .or_else(|| agents.iter().find(|a| a.is_requestor()))
        .or_else(|| agents.iter().find(|a| a.is_human()));
    let is_requestor = |agent: &Agent<'_, '_>| requestor.is_some_and(|r| std::ptr::eq(r, agent));
    if let Some(account) = requestor.and_then(Agent::account) {
        event.set_user(&account, None);
    }

    let sources = requestor
        .into_iter()
        .chain(
            agents
                .iter()
                .filter(|a| a.has_role(vocab::SOURCE_ROLE) && !is_requestor(a)),
        )
        .chain(agents.iter().filter(|a| {
            !a.is_destination() && !a.has_role(vocab::SOURCE_ROLE) && !is_requestor(a)
        }));
    for point in sources.filter_map(Agent::network) {
        vocab::fill_source(event, point);
    }
    let destinations = agents
        .iter()
        .filter(|a| a.has_role(vocab::DESTINATION_ROLE));
    for point in destinations
        .filter(|a| !is_requestor(a))
        .filter_map(Agent::network)
    {
        vocab::fill_destination(event, point);
    }
}

/// Sets `host` from `source.observer` (R4 and R5), or the pre-R4 `source.identifier`.
fn fill_observer(event: &mut Event, object: &Object<'_>) {
    let observer = object
        .path(&["source", "observer"])
        .and_then(Value::as_object);
    let name = observer
        .and_then(|o| {
            o.path(&["identifier", "value"])
                .or_else(|| o.get("display"))
        })
        .or_else(|| object.path(&["source", "identifier", "value"]))
        .and_then(Value::text);
    if let Some(name) = name.filter(|n| vocab::is_host_name(n)) {
        event.set_host(&name);
    }
}

/// Sets `patient_id` and `ehr_resource` from R5 `patient` and the entities.
fn fill_entities(event: &mut Event, object: &Object<'_>) {
    let mut patient: Option<String> = object
        .path(&["patient", "reference"])
        .and_then(Value::text)
        .and_then(|r| {
            reference_parts(&r)
                .filter(|(t, _)| *t == "Patient")
                .map(|(_, id)| id.to_owned())
        });
    let mut patient_seen = patient.is_some();
    let mut other_type: Option<String> = None;
    let mut label: Option<String> = None;

    for entity in objects(object, "entity") {
        let what = entity.get("what").and_then(Value::as_object);
        let reference = what.and_then(|w| w.get("reference")).and_then(Value::text);
        let is_patient_role = codes(entity.get("role")).iter().any(|c| c == "1");
        match reference.as_deref().and_then(reference_parts) {
            Some(("Patient", id)) => {
                patient_seen = true;
                patient.get_or_insert_with(|| id.to_owned());
            }
            Some((kind, _)) if !is_patient_role => {
                other_type.get_or_insert_with(|| kind.to_owned());
            }
            _ if is_patient_role => {
                patient_seen = true;
                let id = what
                    .and_then(|w| w.path(&["identifier", "value"]))
                    .and_then(Value::text);
                if let Some(number) = id.as_deref().and_then(vocab::patient_number) {
                    patient.get_or_insert_with(|| number.to_owned());
                }
            }
            _ if label.is_none() => {
                let role = codings(entity.get("role")).into_iter();
                let coding = role.chain(codings(entity.get("type")));
                label = coding.filter_map(display).next().map(Cow::into_owned);
            }
            _ => {}
        }
    }

    event.patient_id = patient;
    // An application start names no part of a patient's record.
    if event.class != Class::EhrActivity && !patient_seen {
        return;
    }
    event.ehr_resource = other_type
        .or_else(|| patient_seen.then(|| "Patient".to_owned()))
        .or(label);
}

/// Sets `purpose_of_use` and `break_glass`.
fn fill_purpose(
    event: &mut Event,
    object: &Object<'_>,
    agents: &[Agent<'_, '_>],
    kind: Kind,
    event_codings: &[&Object<'_>],
) {
    // Event-level purposes first, then the requestor's, then any agent's.
    let mut purposes = codings(object.get("purposeOfEvent"));
    purposes.extend(codings(object.get("authorization")));
    let requestor = agents.iter().filter(|a| a.is_requestor());
    for agent in requestor.chain(agents.iter().filter(|a| !a.is_requestor())) {
        purposes.extend(agent.purposes());
    }
    event.purpose_of_use = purposes.iter().find_map(|c| code(c)).map(Cow::into_owned);

    let says_break_glass = |c: &&Object<'_>| {
        code(c).is_some_and(|c| vocab::is_emergency_purpose(&c))
            || display(c).is_some_and(|d| vocab::mentions_break_glass(&d))
    };
    let emergency = kind.is_break_glass()
        || purposes.iter().any(says_break_glass)
        || event_codings.iter().any(says_break_glass);
    event.break_glass = if emergency {
        Some(true)
    } else {
        event.purpose_of_use.as_ref().map(|_| false)
    };
}

#[cfg(test)]
mod tests;
