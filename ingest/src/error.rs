//! Why a record could not be normalized.
//!
//! Every variant is the record's fault, not ward's: the record goes to the dead letters
//! and the pipeline moves on. Messages name fields and positions, never values, because
//! values may be patient data.

use thiserror::Error;

use crate::Format;

/// A record that could not be turned into events.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NormalizeError {
    /// No supported format recognizes the record.
    #[error("record matches no supported format")]
    Unrecognized,
    /// The bytes are not valid in the format, such as broken JSON or XML.
    #[error("malformed {format} record: {detail}")]
    Malformed {
        /// The format the record was read as.
        format: Format,
        /// Where and how it is broken, without quoting content.
        detail: String,
    },
    /// The record parses but lacks a field every event of its kind must have.
    #[error("{format} record has no {field}")]
    MissingField {
        /// The format the record was read as.
        format: Format,
        /// The missing field, by its name in the source format.
        field: &'static str,
    },
    /// A field is present but its value cannot be read.
    #[error("{format} record has an unreadable {field}: {reason}")]
    InvalidField {
        /// The format the record was read as.
        format: Format,
        /// The field, by its name in the source format.
        field: &'static str,
        /// What is wrong with it, without quoting it.
        reason: &'static str,
    },
    /// The record is well formed in the format but is not an event, such as a FHIR
    /// resource other than an AuditEvent.
    #[error("{format} record is not an event: {reason}")]
    NotAnEvent {
        /// The format the record was read as.
        format: Format,
        /// What it is instead.
        reason: String,
    },
    /// The record needs context ward does not have, such as a Zeek TSV line without the
    /// `#fields` header that names its columns.
    #[error("{format} record cannot be read alone: {reason}")]
    MissingContext {
        /// The format the record was read as.
        format: Format,
        /// What context is missing.
        reason: &'static str,
    },
}

impl NormalizeError {
    /// A malformed-JSON error that says where the JSON breaks without quoting it.
    ///
    /// serde_json's own messages can include the offending value (`invalid type: string
    /// "..."`), which may be PHI, so only its category and position are kept.
    pub(crate) fn json(format: Format, err: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let what = match err.classify() {
            Category::Io => "read error",
            Category::Syntax => "invalid JSON",
            Category::Data => "unexpected JSON value type",
            Category::Eof => "truncated JSON",
        };
        NormalizeError::Malformed {
            format,
            detail: format!("{what} at line {} column {}", err.line(), err.column()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_do_not_quote_values() {
        let err = serde_json::from_str::<u16>("\"Jane Doe\"").expect_err("not a number");
        let message = NormalizeError::json(Format::ZeekJson, &err).to_string();
        assert!(!message.contains("Jane"), "{message}");
        assert!(message.contains("line 1"), "{message}");
    }
}
