//! One normalizer per format, and the dispatch between them.
//!
//! [`Normalizer::normalize`] takes one record and appends its events, or a dead letter,
//! to the caller's vectors. JSON is parsed once: the parsed object serves both format
//! detection and the format's normalizer. A record that is a JSON array (some shippers
//! batch events that way) is split and each element normalized as its own record.
//!
//! Every normalizer reads through tolerant accessors and returns a [`NormalizeError`]
//! rather than panicking; the property tests in this crate feed them arbitrary bytes.

mod atna;
mod ehr_csv;
mod fhir;
mod suricata;
mod windows;
mod zeek;

use serde_json::value::RawValue;
use ward_schemas::event::Origin;
use ward_schemas::{Event, SourceKind};

use crate::json::Object;
use crate::record::{Hint, Record};
use crate::{DeadLetter, Format, FormatChoice, NormalizeError};

pub use ehr_csv::EHR_ACCESS_COLUMNS;

/// Turns records into events, detecting each record's format or using a fixed one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Normalizer {
    choice: FormatChoice,
}

impl Normalizer {
    /// A normalizer that detects formats per record, or reads every record as one.
    pub fn new(choice: FormatChoice) -> Self {
        Normalizer { choice }
    }

    /// Normalizes one record: appends its events to `events`, or a dead letter carrying
    /// the reason and the raw bytes to `dead_letters`. A record yields zero events only
    /// when it is a dead letter or an empty JSON array.
    pub fn normalize(
        &self,
        record: &Record<'_>,
        events: &mut Vec<Event>,
        dead_letters: &mut Vec<DeadLetter>,
    ) {
        let first = record
            .bytes
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace());
        if first == Some(b'[') && !matches!(self.choice, FormatChoice::Fixed(f) if !f.is_json()) {
            self.normalize_array(record, events, dead_letters);
            return;
        }

        let before = events.len();
        if let Err((reason, format)) = self.normalize_one(record, events) {
            events.truncate(before);
            dead_letters.push(DeadLetter {
                reason,
                format,
                provenance: record.provenance.to_owned(),
                raw: record.bytes.to_vec(),
            });
        }
    }

    fn normalize_array(
        &self,
        record: &Record<'_>,
        events: &mut Vec<Event>,
        dead_letters: &mut Vec<DeadLetter>,
    ) {
        let items: Vec<&RawValue> = match serde_json::from_slice(record.bytes) {
            Ok(items) => items,
            Err(err) => {
                let format = match self.choice {
                    FormatChoice::Fixed(format) => format,
                    FormatChoice::Auto => Format::WindowsJson,
                };
                dead_letters.push(DeadLetter {
                    reason: NormalizeError::json(format, &err),
                    format: None,
                    provenance: record.provenance.to_owned(),
                    raw: record.bytes.to_vec(),
                });
                return;
            }
        };
        for (index, item) in items.iter().enumerate() {
            let provenance = format!("{}#{}", record.provenance, index);
            let item = Record {
                bytes: item.get().as_bytes(),
                provenance: &provenance,
                ..*record
            };
            self.normalize(&item, events, dead_letters);
        }
    }

    fn normalize_one(
        &self,
        record: &Record<'_>,
        out: &mut Vec<Event>,
    ) -> Result<(), (NormalizeError, Option<Format>)> {
        let fixed = match self.choice {
            FormatChoice::Fixed(format) => Some(format),
            FormatChoice::Auto => None,
        };
        let format = fixed.or_else(|| detect_non_json(record));

        match format {
            Some(format) if !format.is_json() => {
                normalize_text(format, record, out).map_err(|err| (err, Some(format)))
            }
            _ => {
                let object = Object::parse(record.bytes).map_err(|err| {
                    (
                        NormalizeError::json(format.unwrap_or(Format::WindowsJson), &err),
                        format,
                    )
                })?;
                let format = format
                    .or_else(|| Format::of_json(&object, record.hint))
                    .ok_or((NormalizeError::Unrecognized, None))?;
                normalize_json(format, &object, record, out).map_err(|err| (err, Some(format)))
            }
        }
    }
}

/// Detects the formats that are not JSON from the record's first bytes and its hint.
fn detect_non_json(record: &Record<'_>) -> Option<Format> {
    match record.hint {
        Hint::ZeekTsv(_) => return Some(Format::ZeekTsv),
        Hint::Csv(_) => return Some(Format::EhrAccessCsv),
        Hint::None | Hint::ZeekPath(_) => {}
    }
    let start = record.bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let bytes = &record.bytes[start..];
    // XML, possibly behind a syslog header (`<85>1 2024-... <?xml ...`), as ATNA travels.
    if bytes.first() == Some(&b'<') && contains(bytes, b"AuditMessage") {
        return Some(Format::DicomAtna);
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn normalize_json(
    format: Format,
    object: &Object<'_>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    match format {
        Format::WindowsJson => windows::normalize_flat(object, record, out),
        Format::WindowsEvtxJson => windows::normalize_evtx(object, record, out),
        Format::ZeekJson => zeek::normalize_json(object, record, out),
        Format::SuricataEve => suricata::normalize(object, record, out),
        Format::FhirAuditEvent => fhir::normalize(object, record, out),
        Format::ZeekTsv | Format::DicomAtna | Format::EhrAccessCsv => {
            unreachable!("normalize_one sends only JSON formats here")
        }
    }
}

fn normalize_text(
    format: Format,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    match format {
        Format::ZeekTsv => match record.hint {
            Hint::ZeekTsv(header) => zeek::normalize_tsv(header, record, out),
            _ => Err(NormalizeError::MissingContext {
                format,
                reason: "a Zeek TSV row needs the #fields header of its file",
            }),
        },
        Format::DicomAtna => atna::normalize(record, out),
        Format::EhrAccessCsv => {
            let header = match record.hint {
                Hint::Csv(header) => Some(&header[..]),
                _ => None,
            };
            ehr_csv::normalize(header, record, out)
        }
        _ => unreachable!("normalize_one sends only non-JSON formats here"),
    }
}

/// The family of sensor a format comes from.
pub(crate) fn kind_of(format: Format) -> SourceKind {
    match format {
        Format::WindowsJson | Format::WindowsEvtxJson => SourceKind::Edr,
        Format::ZeekJson | Format::ZeekTsv | Format::SuricataEve => SourceKind::Ndr,
        Format::FhirAuditEvent | Format::DicomAtna | Format::EhrAccessCsv => SourceKind::Ehr,
    }
}

/// The shared identity of every event a record yields. Fails for bytes that are not
/// UTF-8, which no supported format allows.
pub(crate) fn origin<'a>(
    record: &Record<'a>,
    format: Format,
) -> Result<Origin<'a>, NormalizeError> {
    // Every record is checked, so the fast validator; the exact position is worked out
    // only for the rare record that fails.
    let raw = simdutf8::basic::from_utf8(record.bytes).map_err(|_| {
        let at = std::str::from_utf8(record.bytes)
            .err()
            .map_or(0, |e| e.valid_up_to());
        NormalizeError::Malformed {
            format,
            detail: format!("not valid UTF-8 at byte {at}"),
        }
    })?;
    Ok(Origin {
        raw: raw.trim_end_matches(['\r', '\n']),
        provenance: record.provenance,
        kind: kind_of(format),
        format: format.name(),
    })
}
