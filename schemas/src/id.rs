//! Deterministic event ids.
//!
//! An event id is the first 128 bits of the BLAKE3 hash of the record's bytes, written as
//! 32 lowercase hex digits. It depends on nothing but the record: not on the file, topic,
//! offset or time of ingest. So a record delivered twice (a Kafka retry, a replayed file,
//! a restart after a crash) gets the same id twice, and the lake can prove it holds each
//! record once. A cryptographic hash is used, rather than a faster checksum, because an
//! attacker who could forge a collision could make a real event look like a duplicate.
//!
//! One record that yields several events (a FHIR Bundle) hashes each entry's own bytes.

use std::fmt;

use serde::Serialize;

/// Domain separation, so ward ids never coincide with a plain BLAKE3 of the same bytes.
const CONTEXT: &[u8] = b"ward event v1\0";

/// A deterministic 128-bit event id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId([u8; 16]);

impl EventId {
    /// The id of a record. Trailing line terminators (`\n`, `\r\n`) are not part of the
    /// record, so the same event read from a CRLF file and from Kafka gets the same id.
    pub fn of_record(raw: &[u8]) -> Self {
        let trimmed = raw.strip_suffix(b"\n").unwrap_or(raw);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);

        let mut hasher = blake3::Hasher::new();
        hasher.update(CONTEXT);
        hasher.update(trimmed);
        let hash = hasher.finalize();

        let mut id = [0u8; 16];
        id.copy_from_slice(&hash.as_bytes()[..16]);
        EventId(id)
    }

    /// The 16 bytes of the id.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_record_same_id_whatever_the_line_ending() {
        let lf = EventId::of_record(b"{\"EventID\":4624}\n");
        let crlf = EventId::of_record(b"{\"EventID\":4624}\r\n");
        let bare = EventId::of_record(b"{\"EventID\":4624}");
        assert_eq!(lf, crlf);
        assert_eq!(lf, bare);
    }

    #[test]
    fn different_records_different_ids() {
        assert_ne!(EventId::of_record(b"a"), EventId::of_record(b"b"));
    }

    #[test]
    fn displays_as_32_hex_digits() {
        let text = EventId::of_record(b"x").to_string();
        assert_eq!(text.len(), 32);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
