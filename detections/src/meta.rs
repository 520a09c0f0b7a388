//! What a rule says about itself: the map its `rule()` function returns.

use rhai::{Dynamic, Map};
use serde::Serialize;
use ward_schemas::{Class, Severity, SignalKind};

/// A rule's metadata, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// Unique id, kebab-case, the rule file's name without `.rhai`.
    pub id: String,
    /// One line for people: what the rule finds.
    pub title: String,
    /// Severity of its signals unless a firing overrides it.
    pub severity: Severity,
    /// MITRE ATT&CK technique id, such as `T1021.002`.
    pub technique: String,
    /// How the correlator uses its signals.
    pub kind: SignalKind,
    /// The event classes routed to the rule; never empty.
    pub classes: Vec<Class>,
    /// When present, only events whose `event_code` is one of these reach the rule.
    pub codes: Option<Vec<String>>,
}

impl RuleMeta {
    /// Reads and checks the map a rule's `rule()` function returned. The error says which
    /// key is missing or wrong.
    pub(crate) fn from_map(map: &Map) -> Result<RuleMeta, String> {
        let id = text(map, "id")?;
        let valid_id = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_id {
            return Err(format!("id {id:?} must be kebab-case: a-z, 0-9 and -"));
        }

        let severity = text(map, "severity")?;
        let severity = Severity::from_name(&severity).ok_or_else(|| {
            format!("severity {severity:?} is not informational, low, medium, high or critical")
        })?;
        let kind = text(map, "kind")?;
        let kind = SignalKind::from_name(&kind)
            .ok_or_else(|| format!("kind {kind:?} is not lateral, ehr or host"))?;

        let classes = texts(map, "classes")?.ok_or("missing key classes")?;
        let classes = classes
            .iter()
            .map(|name| Class::from_name(name).ok_or_else(|| format!("unknown class {name:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        if classes.is_empty() {
            return Err("classes must name at least one event class".into());
        }

        Ok(RuleMeta {
            id,
            title: text(map, "title")?,
            severity,
            technique: text(map, "technique")?,
            kind,
            classes,
            codes: texts(map, "codes")?,
        })
    }
}

fn text(map: &Map, key: &str) -> Result<String, String> {
    let value = map.get(key).ok_or_else(|| format!("missing key {key}"))?;
    value
        .clone()
        .into_string()
        .map_err(|kind| format!("{key} must be a string, not {kind}"))
}

fn texts(map: &Map, key: &str) -> Result<Option<Vec<String>>, String> {
    let Some(value) = map.get(key) else {
        return Ok(None);
    };
    let array = value
        .clone()
        .into_array()
        .map_err(|kind| format!("{key} must be an array of strings, not {kind}"))?;
    let strings = array.into_iter().map(Dynamic::into_string);
    let strings = strings.collect::<Result<Vec<_>, _>>();
    strings
        .map(Some)
        .map_err(|kind| format!("{key} must hold strings, not {kind}"))
}
