//! DICOM PS3.15 / IHE ATNA audit messages (`AuditMessage` XML).
//!
//! One record is one `AuditMessage`, possibly behind an `<?xml ...?>` declaration and a
//! syslog header ([`syslog`]). Element names are matched without their namespace, and a
//! coded value is read from `csd-code` / `originalText` (DICOM) or `code` / `displayName`
//! (RFC 3881), so older senders read the same. Classes and activities follow [`vocab`].
//!
//! | ward column | from |
//! |---|---|
//! | `time` | `EventIdentification@EventDateTime`; the syslog header's time if absent |
//! | `event_code` | `EventID` code |
//! | `activity`, `ehr_action` | `EventActionCode` verb (see [`vocab`] for the other kinds) |
//! | `outcome` | `EventOutcomeIndicator`: 0 success; 4, 8, 12 failure |
//! | `signature` | security alerts: the `EventTypeCode` text |
//! | `user` | the requestor's `UserID` (a person before an AE title or device) |
//! | `src_host` / `src_ip` | the requestor's `NetworkAccessPointID` |
//! | `dst_host` / `dst_ip` | the destination (role 110152) participant's access point |
//! | `host` | `AuditSourceIdentification@AuditSourceID`; else the syslog host |
//! | `patient_id` | the patient object's (type 1, role 1) `ParticipantObjectID`, CX id only |
//! | `ehr_resource` | the other object's ID type (`Study Instance UID`), else `Patient` (*) |
//! | `purpose_of_use` | `EventIdentification/PurposeOfUse` code |
//! | `break_glass` | true for emergency overrides and emergency purposes |
//!
//! Design choices:
//! - A `UserID` that is an IP address or a URI names a machine or service, not an account,
//!   and is not stored as `user`. `UserName` is a person's name and is never stored.
//! - `ParticipantObjectName` (the patient's name), `ParticipantObjectQuery`,
//!   `ParticipantObjectDetail` and `EventOutcomeDescription` can hold PHI and free text;
//!   no column reads them. They stay in `raw` only.
//! - (*) `ehr_resource` is `Patient` for a patient-only message, spelled like FHIR's
//!   resource type so one filter finds both sources. It is left empty for events that are
//!   not record access and involve no patient (an alert about a device or a task list).
//! - `break_glass` is `None` unless the message says emergency, or declares a purpose of
//!   use, which makes it `false`: no ATNA field says "this was a normal access".
//! - An XML error reports its kind and position, never the text around it. Messages over
//!   [`MAX_MESSAGE_BYTES`] or [`MAX_NODES`] are refused; DTDs are refused, so entity
//!   expansion cannot blow up.

mod syslog;
pub(super) mod vocab;

use roxmltree::{Document, Node, ParsingOptions};
use ward_schemas::{Class, Event, Timestamp};

use self::syslog::Envelope;
use self::vocab::{Kind, NetworkPoint};
use crate::record::Record;
use crate::{Format, NormalizeError, timefmt};

const FORMAT: Format = Format::DicomAtna;

/// The largest audit message read, in bytes. dcm4chee's largest messages (instances
/// transferred, with every SOP instance listed) are tens of kilobytes.
const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// The most XML nodes (elements, runs of text, comments) one message may have.
const MAX_NODES: u32 = 200_000;

/// Normalizes one `AuditMessage` into one event.
pub(crate) fn normalize(record: &Record<'_>, out: &mut Vec<Event>) -> Result<(), NormalizeError> {
    let origin = super::origin(record, FORMAT)?;
    if origin.raw.len() > MAX_MESSAGE_BYTES {
        return Err(NormalizeError::Malformed {
            format: FORMAT,
            detail: format!("message is larger than {MAX_MESSAGE_BYTES} bytes"),
        });
    }
    let envelope = Envelope::split(origin.raw);
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..Default::default()
    };
    let document = Document::parse_with_options(envelope.xml, options).map_err(xml_error)?;

    let root = document.root_element();
    if root.tag_name().name() != "AuditMessage" {
        return Err(NormalizeError::NotAnEvent {
            format: FORMAT,
            reason: "an XML document whose root element is not AuditMessage".into(),
        });
    }
    let identification =
        child(root, "EventIdentification").ok_or(NormalizeError::MissingField {
            format: FORMAT,
            field: "EventIdentification",
        })?;
    let time = event_time(identification, &envelope)?;

    let event_id = child(identification, "EventID");
    let type_codes: Vec<Node<'_, '_>> = children(identification, "EventTypeCode").collect();
    let kind = Kind::of_codes(event_id.iter().chain(&type_codes).filter_map(|n| code(*n)));
    let verb = attr(identification, "EventActionCode").and_then(vocab::action_verb);
    let (class, activity) = kind.class_and_activity(verb);

    let mut event = Event::new(origin, time, class, activity);
    event.observed_time = record.received;
    event.event_code = event_id.and_then(code).map(str::to_owned);
    event.outcome = attr(identification, "EventOutcomeIndicator").and_then(vocab::outcome);
    if class == Class::EhrActivity {
        event.ehr_action = verb.map(str::to_owned);
    }
    if class == Class::DetectionFinding {
        let coded = type_codes.first().copied().or(event_id);
        event.signature = coded
            .and_then(|n| code_text(n).or_else(|| code(n)))
            .map(str::to_owned);
    }

    let source = child(root, "AuditSourceIdentification").and_then(|n| attr(n, "AuditSourceID"));
    if let Some(host) = source.filter(|h| vocab::is_host_name(h)).or(envelope.host) {
        event.set_host(host);
    }
    let participants: Vec<Participant<'_>> = children(root, "ActiveParticipant")
        .map(Participant::read)
        .collect();
    fill_participants(&mut event, &participants);
    fill_objects(&mut event, root);
    fill_purpose(&mut event, identification, kind);

    out.push(event);
    Ok(())
}

/// `EventDateTime`, or the syslog header's time when the message has none.
fn event_time(
    identification: Node<'_, '_>,
    envelope: &Envelope<'_>,
) -> Result<Timestamp, NormalizeError> {
    match attr(identification, "EventDateTime") {
        Some(text) => timefmt::parse_iso(text).ok_or(NormalizeError::InvalidField {
            format: FORMAT,
            field: "EventDateTime",
            reason: "not an ISO 8601 date-time",
        }),
        None => envelope.time.ok_or(NormalizeError::MissingField {
            format: FORMAT,
            field: "EventDateTime",
        }),
    }
}

/// One `ActiveParticipant`.
struct Participant<'a> {
    /// `UserID`, if it names an account rather than a machine or service.
    user: Option<&'a str>,
    /// `UserIsRequestor` is true.
    requestor: bool,
    /// `UserTypeCode` 1 (person) or a person-id `UserIDTypeCode` (113871).
    person: bool,
    /// `RoleIDCode` codes.
    roles: Vec<&'a str>,
    /// The network access point, read with its type code.
    network: Option<NetworkPoint>,
}

impl<'a> Participant<'a> {
    /// Reads one `ActiveParticipant` element.
    fn read(node: Node<'a, '_>) -> Self {
        let id_type = child(node, "UserIDTypeCode");
        let id_type_code = id_type.and_then(code);
        let is_uri_type = id_type_code == Some("12") || id_type.and_then(code_text) == Some("URI");
        let user = attr(node, "UserID").filter(|id| {
            !is_uri_type
                && id.parse::<std::net::IpAddr>().is_err()
                && !id.contains("://")
                && !id.starts_with('/')
        });
        let network = attr(node, "NetworkAccessPointID")
            .and_then(|id| vocab::network_point(id, attr(node, "NetworkAccessPointTypeCode")));
        Participant {
            user,
            requestor: attr(node, "UserIsRequestor")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            person: attr(node, "UserTypeCode") == Some("1") || id_type_code == Some("113871"),
            roles: children(node, "RoleIDCode").filter_map(code).collect(),
            network,
        }
    }

    /// Whether one of its `RoleIDCode`s is `role`.
    fn has_role(&self, role: &str) -> bool {
        self.roles.contains(&role)
    }
}

/// Sets `user` and `src_*` from the requestor, `dst_*` from the destination.
fn fill_participants(event: &mut Event, participants: &[Participant<'_>]) {
    // Requestors, people first; then people who are not requestors, for the user only.
    let mut requestors: Vec<&Participant<'_>> =
        participants.iter().filter(|p| p.requestor).collect();
    requestors.sort_by_key(|p| !p.person);
    let people = participants.iter().filter(|p| !p.requestor && p.person);
    let user = requestors
        .iter()
        .copied()
        .chain(people)
        .find_map(|p| p.user);
    if let Some(user) = user {
        event.set_user(user, None);
    }
    if let Some(point) = requestors.iter().find_map(|p| p.network.clone()) {
        vocab::fill_source(event, point);
    }

    // The destination by role; failing that, a participant that is neither the requestor
    // nor a named source or medium (the archive a requestor talked to).
    let others = || participants.iter().filter(|p| !p.requestor);
    let destination = others()
        .filter(|p| p.has_role(vocab::DESTINATION_ROLE))
        .find_map(|p| p.network.clone())
        .or_else(|| {
            others()
                .filter(|p| {
                    !p.has_role(vocab::SOURCE_ROLE) && !p.has_role(vocab::DESTINATION_MEDIA)
                })
                .find_map(|p| p.network.clone())
        });
    if let Some(point) = destination {
        vocab::fill_destination(event, point);
    }
}

/// Sets `patient_id` and `ehr_resource` from the participant objects.
fn fill_objects(event: &mut Event, root: Node<'_, '_>) {
    let mut patient_seen = false;
    let mut other_type = None;
    for object in children(root, "ParticipantObjectIdentification") {
        let id_type = child(object, "ParticipantObjectIDTypeCode");
        let is_patient = attr(object, "ParticipantObjectTypeCode") == Some("1")
            && (attr(object, "ParticipantObjectTypeCodeRole") == Some("1")
                || id_type.and_then(code) == Some("2"));
        if is_patient {
            patient_seen = true;
            if event.patient_id.is_none() {
                let id = attr(object, "ParticipantObjectID").and_then(vocab::patient_number);
                event.patient_id = id.map(str::to_owned);
            }
        } else if other_type.is_none() {
            other_type = id_type.and_then(|n| code_text(n).or_else(|| code(n)));
        }
    }
    // An alert about a device or task names no part of a patient's record.
    if event.class != Class::EhrActivity && !patient_seen {
        return;
    }
    event.ehr_resource = match other_type {
        Some(kind) => Some(kind.to_owned()),
        None => patient_seen.then(|| "Patient".to_owned()),
    };
}

/// Sets `purpose_of_use` and `break_glass`.
fn fill_purpose(event: &mut Event, identification: Node<'_, '_>, kind: Kind) {
    let purposes: Vec<Node<'_, '_>> = children(identification, "PurposeOfUse").collect();
    event.purpose_of_use = purposes.iter().find_map(|n| code(*n)).map(str::to_owned);
    let emergency = kind.is_break_glass()
        || purposes.iter().any(|n| {
            code(*n).is_some_and(vocab::is_emergency_purpose)
                || code_text(*n).is_some_and(vocab::mentions_break_glass)
        });
    event.break_glass = if emergency {
        Some(true)
    } else {
        event.purpose_of_use.as_ref().map(|_| false)
    };
}

/// Describes an XML error by kind and position only: roxmltree's own messages quote names
/// and entity text from the document.
fn xml_error(err: roxmltree::Error) -> NormalizeError {
    use roxmltree::Error as E;
    let detail = match err {
        E::DtdDetected => "XML with a document type declaration is not accepted".to_owned(),
        E::NodesLimitReached => format!("XML has more than {MAX_NODES} nodes"),
        E::AttributesLimitReached | E::NamespacesLimitReached => {
            "XML has too many attributes or namespaces".to_owned()
        }
        E::NoRootNode => "no XML element found".to_owned(),
        E::UnclosedRootNode | E::UnexpectedEndOfStream => "truncated XML".to_owned(),
        E::EntityReferenceLoop(pos) => {
            format!(
                "XML entity reference loop at line {} column {}",
                pos.row, pos.col
            )
        }
        other => {
            let pos = other.pos();
            format!(
                "invalid XML at line {} column {} of the message",
                pos.row, pos.col
            )
        }
    };
    NormalizeError::Malformed {
        format: FORMAT,
        detail,
    }
}

/// The first child element with this local name.
fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}

/// The child elements with this local name, ignoring namespaces.
fn children<'a, 'i>(node: Node<'a, 'i>, name: &str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// An attribute's value, trimmed; empty counts as absent.
fn attr<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attribute(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A coded value's code: `csd-code` (DICOM) or `code` (RFC 3881).
fn code<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    attr(node, "csd-code").or_else(|| attr(node, "code"))
}

/// A coded value's text: `originalText` (DICOM) or `displayName` (RFC 3881).
fn code_text<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    attr(node, "originalText").or_else(|| attr(node, "displayName"))
}

#[cfg(test)]
mod tests;
