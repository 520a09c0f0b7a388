//! The syslog header ATNA messages travel behind.
//!
//! IHE ATNA sends each audit message as one syslog message (RFC 5424 over TLS or UDP,
//! RFC 5425 / 5426): `<85>1 2024-09-03T13:03:17Z host app - - - <?xml ...`. A collector may
//! keep that header when it forwards the message, so a record may start with it. The
//! header's timestamp and host name are the sender's, and are used only where the XML lacks
//! its own. Older BSD-style headers (RFC 3164) are skipped without reading them.

use ward_schemas::Timestamp;

use crate::timefmt;

/// A record split into its optional syslog header and the XML after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Envelope<'a> {
    /// The XML, from its declaration or root element on.
    pub(super) xml: &'a str,
    /// The RFC 5424 header's TIMESTAMP, when there is a header and it has a valid one.
    pub(super) time: Option<Timestamp>,
    /// The RFC 5424 header's HOSTNAME, when there is a header and it is not nil (`-`).
    pub(super) host: Option<&'a str>,
}

impl<'a> Envelope<'a> {
    /// Splits a record. Text that does not start with a syslog priority (`<85>`) is all XML.
    pub(super) fn split(text: &'a str) -> Self {
        let text = text.trim_start_matches('\u{feff}').trim_start();
        let Some(after_pri) = priority_end(text) else {
            return Envelope {
                xml: text,
                time: None,
                host: None,
            };
        };

        let xml_start = xml_start(text, after_pri).unwrap_or(text.len());
        let xml = text[xml_start..].trim_start_matches('\u{feff}');

        // RFC 5424: VERSION SP TIMESTAMP SP HOSTNAME SP ...; the version follows the
        // priority directly, which tells it apart from an RFC 3164 date.
        let mut fields = text[after_pri..xml_start].split_ascii_whitespace();
        let is_5424 = fields
            .next()
            .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()));
        if !is_5424 {
            return Envelope {
                xml,
                time: None,
                host: None,
            };
        }
        let time = fields.next().and_then(timefmt::parse_iso);
        let host = fields.next().filter(|h| *h != "-");
        Envelope { xml, time, host }
    }
}

/// The byte after `<PRI>` if the text starts with a syslog priority.
fn priority_end(text: &str) -> Option<usize> {
    let rest = text.strip_prefix('<')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (1..=3).contains(&digits).then_some(())?;
    rest[digits..].starts_with('>').then_some(digits + 2)
}

/// Where the XML starts: its declaration, else its `AuditMessage` root, else the first
/// tag after the header.
fn xml_start(text: &str, from: usize) -> Option<usize> {
    let rest = &text[from..];
    let at = rest
        .find("<?xml")
        .or_else(|| rest.find("<AuditMessage"))
        .or_else(|| {
            rest.char_indices()
                .find(|&(i, c)| {
                    c == '<' && rest[i + 1..].starts_with(|n: char| n.is_ascii_alphabetic())
                })
                .map(|(i, _)| i)
        })?;
    Some(from + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_header_gives_time_and_host() {
        let record = "<85>1 2024-09-03T13:03:17Z pacs01 dcm4chee - - - <?xml version=\"1.0\"?><a/>";
        let envelope = Envelope::split(record);
        assert_eq!(envelope.xml, "<?xml version=\"1.0\"?><a/>");
        assert_eq!(
            envelope.time.map(|t| t.to_string()).as_deref(),
            Some("2024-09-03T13:03:17.000000Z")
        );
        assert_eq!(envelope.host, Some("pacs01"));
    }

    #[test]
    fn structured_data_and_bom_are_skipped() {
        let record = "<85>1 - - app 42 IHE+RFC-3881 [x@1 a=\"b\"] \u{feff}<AuditMessage/>";
        let envelope = Envelope::split(record);
        assert_eq!(envelope.xml, "<AuditMessage/>");
        assert_eq!((envelope.time, envelope.host), (None, None));
    }

    #[test]
    fn bsd_headers_are_skipped_and_bare_xml_is_kept() {
        let bsd = Envelope::split("<85>Sep  3 13:03:17 pacs01 app: <AuditMessage/>");
        assert_eq!(
            (bsd.xml, bsd.time, bsd.host),
            ("<AuditMessage/>", None, None)
        );
        let bare = Envelope::split("\n<?xml version=\"1.0\"?><AuditMessage/>");
        assert_eq!(bare.xml, "<?xml version=\"1.0\"?><AuditMessage/>");
    }
}
