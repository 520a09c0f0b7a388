//! The formats ward reads, and how a record's format is recognized.
//!
//! Detection is per record, because one Kafka topic or one folder often mixes sources.
//! It looks at the shape of the record (the first byte, the container's hint, and for
//! JSON the top-level keys), never at values, so it is cheap and does not guess from
//! content an attacker controls. An operator who knows better fixes the format with
//! [`FormatChoice::Fixed`].

use std::fmt;
use std::str::FromStr;

use crate::json::Object;
use crate::record::Hint;

/// A wire format ward can normalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Windows events as flat JSON, one event per object: NXLog `im_msvistalog` output
    /// (`EventID`, `Channel`, `Hostname`, event data at the top level) and Winlogbeat
    /// documents (`winlog.event_id`, `winlog.event_data`).
    WindowsJson,
    /// Windows events as nested evtx JSON (`Event.System`, `Event.EventData`), as written
    /// by evtx-to-JSON converters.
    WindowsEvtxJson,
    /// Zeek logs as JSON, in all three dialects: `id.orig_h` keys with ISO `ts`,
    /// `id_orig_h` keys with epoch `ts`, dotted keys with epoch `ts`.
    ZeekJson,
    /// Zeek logs as tab-separated values under `#fields` headers.
    ZeekTsv,
    /// Suricata EVE JSON (alert, flow and the other event types).
    SuricataEve,
    /// HL7 FHIR AuditEvent, R4 or R5, alone or in a Bundle.
    FhirAuditEvent,
    /// DICOM PS3.15 / IHE ATNA `AuditMessage` XML.
    DicomAtna,
    /// A flat EHR access log in CSV, shaped like Epic Clarity's access log.
    EhrAccessCsv,
}

impl Format {
    /// Every format, in declaration order.
    pub const ALL: [Format; 8] = [
        Format::WindowsJson,
        Format::WindowsEvtxJson,
        Format::ZeekJson,
        Format::ZeekTsv,
        Format::SuricataEve,
        Format::FhirAuditEvent,
        Format::DicomAtna,
        Format::EhrAccessCsv,
    ];

    /// The name used on the command line, in config files and in the `source_format`
    /// column.
    pub const fn name(self) -> &'static str {
        match self {
            Format::WindowsJson => "windows-json",
            Format::WindowsEvtxJson => "windows-evtx-json",
            Format::ZeekJson => "zeek-json",
            Format::ZeekTsv => "zeek-tsv",
            Format::SuricataEve => "suricata-eve",
            Format::FhirAuditEvent => "fhir-audit-event",
            Format::DicomAtna => "dicom-atna",
            Format::EhrAccessCsv => "ehr-access-csv",
        }
    }

    /// Whether records of this format are JSON objects.
    pub const fn is_json(self) -> bool {
        matches!(
            self,
            Format::WindowsJson
                | Format::WindowsEvtxJson
                | Format::ZeekJson
                | Format::SuricataEve
                | Format::FhirAuditEvent
        )
    }

    /// Recognizes a parsed JSON record by its top-level keys.
    pub(crate) fn of_json(object: &Object<'_>, hint: &Hint) -> Option<Format> {
        let has = |key: &str| object.get(key).is_some();
        if has("resourceType") {
            Some(Format::FhirAuditEvent)
        } else if object
            .get("Event")
            .and_then(|e| e.as_object())
            .is_some_and(|e| e.get("System").is_some())
        {
            Some(Format::WindowsEvtxJson)
        } else if has("winlog") || (has("EventID") && (has("Channel") || has("SourceName"))) {
            Some(Format::WindowsJson)
        } else if has("event_type") && has("timestamp") {
            Some(Format::SuricataEve)
        } else if has("_path")
            || has("@stream")
            || has("id.orig_h")
            || has("id_orig_h")
            || (has("ts") && matches!(hint, Hint::ZeekPath(_)))
        {
            Some(Format::ZeekJson)
        } else {
            None
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that ward does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {given:?}; known formats: auto, {}", known_names())]
pub struct UnknownFormat {
    /// What was asked for.
    pub given: String,
}

fn known_names() -> String {
    Format::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownFormat {
                given: name.to_owned(),
            })
    }
}

/// Whether to detect each record's format or read every record as one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// Detect per record.
    #[default]
    Auto,
    /// Read every record as this format; a record that does not fit is a dead letter.
    Fixed(Format),
}

impl FromStr for FormatChoice {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name.trim().eq_ignore_ascii_case("auto") {
            Ok(FormatChoice::Auto)
        } else {
            name.parse().map(FormatChoice::Fixed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
        }
        assert_eq!("AUTO".parse::<FormatChoice>(), Ok(FormatChoice::Auto));
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = "evtx".parse::<Format>().expect_err("not a format name");
        assert!(err.to_string().contains("windows-evtx-json"), "{err}");
    }
}
