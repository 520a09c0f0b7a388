//! Reading FHIR data types (Coding, CodeableConcept, Reference) and AuditEvent agents
//! through the tolerant JSON tree, whichever of R4 and R5 wrote them.
//!
//! R4 and R5 differ mostly in which type a field has: R4's `type` and `entity.role` are
//! Codings where R5 has CodeableConcepts, R4's `agent.network` is an object where R5 has
//! `networkString` / `networkUri`. The readers here accept either, so the normalizer never
//! asks which version it has.

use std::borrow::Cow;

use crate::json::{Object, Value};
use crate::normalize::atna::vocab::{self, NetworkPoint};

/// The codings of a Coding, a CodeableConcept, or an array of either, in order.
pub(super) fn codings<'v, 'a>(value: Option<&'v Value<'a>>) -> Vec<&'v Object<'a>> {
    let mut out = Vec::new();
    match value {
        Some(Value::Array(items)) => {
            for item in items.iter().filter_map(Value::as_object) {
                push_codings(item, &mut out);
            }
        }
        Some(Value::Object(object)) => push_codings(object, &mut out),
        _ => {}
    }
    out
}

/// A CodeableConcept contributes its `coding` list; anything else is taken as a Coding.
fn push_codings<'v, 'a>(object: &'v Object<'a>, out: &mut Vec<&'v Object<'a>>) {
    match object.get("coding").and_then(Value::as_array) {
        Some(list) => out.extend(list.iter().filter_map(Value::as_object)),
        None => out.push(object),
    }
}

/// A coding's `code`.
pub(super) fn code<'v>(coding: &'v Object<'_>) -> Option<Cow<'v, str>> {
    coding.get("code").and_then(Value::text)
}

/// A coding's `display`, or a CodeableConcept's `text`.
pub(super) fn display<'v>(coding: &'v Object<'_>) -> Option<Cow<'v, str>> {
    coding.text_of(&["display", "text"])
}

/// The codes of a Coding, CodeableConcept or array of either.
pub(super) fn codes<'v>(value: Option<&'v Value<'_>>) -> Vec<Cow<'v, str>> {
    codings(value).into_iter().filter_map(code).collect()
}

/// Splits a FHIR reference into resource type and id: `Patient/example/_history/1` and
/// `https://ehr.example/fhir/Patient/example` both give `("Patient", "example")`.
/// Contained (`#o1`) and `urn:` references name no type and give `None`.
pub(super) fn reference_parts(reference: &str) -> Option<(&str, &str)> {
    let reference = reference.trim();
    let path = reference.split("/_history/").next().unwrap_or(reference);
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let id = segments.next().filter(|id| !id.is_empty())?;
    let kind = segments.next()?;
    let is_type = kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric());
    is_type.then_some((kind, id))
}

/// The array member `key` as objects; absent or malformed is empty.
pub(super) fn objects<'v, 'a>(object: &'v Object<'a>, key: &str) -> Vec<&'v Object<'a>> {
    match object.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(one)) => vec![one],
        _ => Vec::new(),
    }
}

/// One AuditEvent agent.
pub(super) struct Agent<'v, 'a> {
    /// The agent's JSON.
    pub(super) object: &'v Object<'a>,
    /// Codes of its `type` and `role`.
    roles: Vec<Cow<'v, str>>,
}

impl<'v, 'a> Agent<'v, 'a> {
    /// The agents of an AuditEvent.
    pub(super) fn all(event: &'v Object<'a>) -> Vec<Self> {
        objects(event, "agent")
            .into_iter()
            .map(|object| {
                let mut roles = codes(object.get("type"));
                roles.extend(codes(object.get("role")));
                Agent { object, roles }
            })
            .collect()
    }

    /// Whether `requestor` is true.
    pub(super) fn is_requestor(&self) -> bool {
        self.object.get("requestor").and_then(Value::as_bool) == Some(true)
    }

    /// Whether its type or role has this code.
    pub(super) fn has_role(&self, code: &str) -> bool {
        self.roles.iter().any(|r| r == code)
    }

    /// Whether it is a person (type `humanuser`).
    pub(super) fn is_human(&self) -> bool {
        self.has_role("humanuser")
    }

    /// Whether it received the data: destination role or destination media.
    pub(super) fn is_destination(&self) -> bool {
        self.has_role(vocab::DESTINATION_ROLE) || self.has_role(vocab::DESTINATION_MEDIA)
    }

    /// The account the agent acted as: `who.identifier.value`, else R4 `altId`, else
    /// `who.display`, else the id of `who.reference` (`Practitioner/f001` gives `f001`).
    /// R4 `name` is a person's name and is never read.
    pub(super) fn account(&self) -> Option<String> {
        let who = self.object.get("who").and_then(Value::as_object);
        let text = |o: Option<&'v Object<'a>>, path: &[&str]| {
            o.and_then(|o| o.path(path))
                .and_then(Value::text)
                .map(Cow::into_owned)
        };
        text(who, &["identifier", "value"])
            .or_else(|| text(Some(self.object), &["altId"]))
            .or_else(|| text(who, &["display"]))
            .or_else(|| {
                let reference = text(who, &["reference"])?;
                reference_parts(&reference).map(|(_, id)| id.to_owned())
            })
    }

    /// Where the agent was on the network: R4 `network.address` read with its
    /// `network.type`, R5 `networkString` or `networkUri`.
    pub(super) fn network(&self) -> Option<NetworkPoint> {
        if let Some(network) = self.object.get("network").and_then(Value::as_object) {
            let address = network.get("address").and_then(Value::text)?;
            let kind = network.get("type").and_then(Value::text);
            return vocab::network_point(&address, kind.as_deref());
        }
        if let Some(text) = self.object.get("networkString").and_then(Value::text) {
            return vocab::network_point(&text, None);
        }
        let uri = self.object.get("networkUri").and_then(Value::text)?;
        vocab::network_point(&uri, Some("5"))
    }

    /// Purpose-of-use codings: R4 `purposeOfUse`, R5 `authorization`.
    pub(super) fn purposes(&self) -> Vec<&'v Object<'a>> {
        let mut purposes = codings(self.object.get("purposeOfUse"));
        purposes.extend(codings(self.object.get("authorization")));
        purposes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codings_from_coding_concept_or_arrays() {
        let object = Object::parse(
            br#"{"a": {"code": "rest"}, "b": [{"coding": [{"code": "1"}, {"code": "2"}]}],
                "c": {"coding": [{"code": "110127"}]}, "d": "text"}"#,
        )
        .expect("the fixture is JSON");
        assert_eq!(codes(object.get("a")), ["rest"]);
        assert_eq!(codes(object.get("b")), ["1", "2"]);
        assert_eq!(codes(object.get("c")), ["110127"]);
        assert!(codes(object.get("d")).is_empty());
    }

    #[test]
    fn references_split_into_type_and_id() {
        assert_eq!(
            reference_parts("Patient/example/_history/1"),
            Some(("Patient", "example"))
        );
        assert_eq!(
            reference_parts("https://x.example/fhir/Patient/p1"),
            Some(("Patient", "p1"))
        );
        assert_eq!(
            reference_parts("Practitioner/f001"),
            Some(("Practitioner", "f001"))
        );
        assert_eq!(reference_parts("#o1"), None);
        assert_eq!(reference_parts("urn:uuid:1234"), None);
    }

    #[test]
    fn account_prefers_identifier_and_never_reads_name() {
        let object = Object::parse(
            br#"{"agent": [
                {"who": {"identifier": {"value": "95"}, "display": "Test Person"}, "name": "N"},
                {"who": {"reference": "Practitioner/f001"}},
                {"name": "Only A Name"}]}"#,
        )
        .expect("the fixture is JSON");
        let accounts: Vec<_> = Agent::all(&object).iter().map(Agent::account).collect();
        assert_eq!(
            accounts,
            [Some("95".to_owned()), Some("f001".to_owned()), None]
        );
    }
}
