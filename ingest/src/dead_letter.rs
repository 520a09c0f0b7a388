//! What is kept of a record that could not be normalized.
//!
//! A dead letter is not a failure to hide: it is evidence that a sensor sent something
//! ward could not read. It keeps the raw bytes exactly, where the record came from, and
//! why it was refused, so an operator can fix the sensor or the normalizer and replay it.

use base64::Engine;
use serde::Serialize;

use crate::{Format, NormalizeError};

/// A record that could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Why it was refused; never quotes the record.
    pub reason: NormalizeError,
    /// The format it was read as, if one was detected or chosen.
    pub format: Option<Format>,
    /// `file:LINE` or `topic/partition/offset`.
    pub provenance: String,
    /// The record's bytes, unchanged.
    pub raw: Vec<u8>,
}

/// The JSON form of a dead letter, one per line in a dead-letter file.
///
/// `raw` holds the record when it is valid UTF-8; otherwise `raw_base64` holds it, so the
/// bytes survive exactly either way.
#[derive(Serialize)]
struct DeadLetterJson<'a> {
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    provenance: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
}

impl DeadLetter {
    /// The dead letter as one line of JSON (without the newline).
    pub fn to_json(&self) -> String {
        let text = std::str::from_utf8(&self.raw).ok();
        let json = DeadLetterJson {
            reason: self.reason.to_string(),
            format: self.format.map(Format::name),
            provenance: &self.provenance,
            raw: text,
            raw_base64: match text {
                Some(_) => None,
                None => Some(base64::engine::general_purpose::STANDARD.encode(&self.raw)),
            },
        };
        serde_json::to_string(&json).expect("a struct of strings always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_raw_survives_as_base64() {
        let letter = DeadLetter {
            reason: NormalizeError::Unrecognized,
            format: None,
            provenance: "garbage.bin:1".into(),
            raw: vec![0xff, 0x00, 0xfe],
        };
        let json: serde_json::Value = serde_json::from_str(&letter.to_json()).unwrap();
        assert_eq!(json["raw_base64"], "/wD+");
        assert_eq!(json["reason"], "record matches no supported format");
        assert!(json.get("raw").is_none());
    }
}
