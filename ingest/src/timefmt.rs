//! The timestamp shapes sensors write.
//!
//! Seen in real data: RFC 3339 with `Z` or `+02:00`; ISO 8601 with a `-0600` offset and no
//! colon (Suricata); no zone at all (Suricata, Sysmon `UtcTime`, NXLog `EventTime`); a
//! space instead of the `T`; fractions from milliseconds to 100 ns (evtx); and fractional
//! epoch seconds as numbers or strings (Zeek). A time with no zone is taken as UTC: the
//! sources that write one (Sysmon `UtcTime`, Suricata in UTC mode) write UTC, and the one
//! that writes local time without saying so (NXLog `EventTime`) is read only as a last
//! resort.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use ward_schemas::Timestamp;

use crate::json::Value;

/// Parses an ISO 8601 / RFC 3339 date-time in any of the shapes above.
pub(crate) fn parse_iso(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if text.len() < 19 || text.len() > 48 {
        return None;
    }
    let (naive, offset) = split_offset(text)?;
    let naive = parse_naive(naive)?;
    let time = offset.from_local_datetime(&naive).single()?;
    Some(Timestamp::from_datetime(&time))
}

/// Parses a timestamp given as epoch seconds (number or numeric string) or as ISO text.
pub(crate) fn parse_value(value: &Value<'_>) -> Option<Timestamp> {
    match value {
        Value::Int(_) | Value::Float(_) => value.as_f64().and_then(Timestamp::from_epoch_seconds),
        Value::Str(text) => match text.trim().parse::<f64>() {
            Ok(seconds) => Timestamp::from_epoch_seconds(seconds),
            Err(_) => parse_iso(text),
        },
        _ => None,
    }
}

/// Splits `2020-09-20T16:16:56.010-0600` into the local part and its offset; no zone means
/// UTC.
fn split_offset(text: &str) -> Option<(&str, FixedOffset)> {
    let utc = FixedOffset::east_opt(0)?;
    if let Some(naive) = text.strip_suffix(['Z', 'z']) {
        return Some((naive, utc));
    }

    // The offset sign can only appear after the time's first colon, past the date's
    // hyphens.
    let time_start = text.find(':')?;
    let Some(sign_at) = text[time_start..].rfind(['+', '-']).map(|i| i + time_start) else {
        return Some((text, utc));
    };
    let (naive, zone) = text.split_at(sign_at);
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 2 && digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    let seconds = (hours * 3600 + minutes * 60) * if zone.starts_with('-') { -1 } else { 1 };
    Some((naive, FixedOffset::east_opt(seconds)?))
}

/// Reads `YYYY-MM-DD[T ]HH:MM:SS[.fraction]` by position. Hand-written because it runs
/// for nearly every record, and interpreting a format string each time costs more than
/// the rest of a timestamp's handling together.
fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &bytes[range];
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;

    // A fraction of any length; digits past nanoseconds are dropped.
    let nanos = match bytes.get(19) {
        None => 0,
        Some(b'.') => {
            let digits = &bytes[20..];
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let kept = &digits[..digits.len().min(9)];
            let value = kept.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            value * 10u32.pow(9 - kept.len() as u32)
        }
        Some(_) => return None,
    };
    let time =
        NaiveTime::from_hms_nano_opt(number(11..13)?, number(14..16)?, number(17..19)?, nanos)?;
    Some(NaiveDateTime::new(date, time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(text: &str) -> String {
        parse_iso(text)
            .map(|t| t.to_string())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn every_shape_seen_in_real_data() {
        assert_eq!(
            iso("2020-09-20T16:16:58.212Z"),
            "2020-09-20T16:16:58.212000Z"
        );
        assert_eq!(
            iso("2020-09-20 16:16:56.010"),
            "2020-09-20T16:16:56.010000Z"
        );
        assert_eq!(
            iso("2015-03-29T11:01:38.221126-0600"),
            "2015-03-29T17:01:38.221126Z"
        );
        assert_eq!(
            iso("2024-09-03T13:03:17.930+02:00"),
            "2024-09-03T11:03:17.930000Z"
        );
        assert_eq!(
            iso("2019-01-02T03:50:11.315110"),
            "2019-01-02T03:50:11.315110Z"
        );
        assert_eq!(
            iso("2019-03-18T11:06:25.4852145Z"),
            "2019-03-18T11:06:25.485214Z"
        );
        assert_eq!(
            iso("2012-10-25T22:04:27+11:00"),
            "2012-10-25T11:04:27.000000Z"
        );
        assert_eq!(iso("2013-09-22T00:08:00Z"), "2013-09-22T00:08:00.000000Z");
        assert_eq!(iso("2020-09-20 12:16:27"), "2020-09-20T12:16:27.000000Z");
    }

    #[test]
    fn nonsense_is_none() {
        for text in [
            "",
            "yesterday",
            "2020-13-40T00:00:00Z",
            "2020-09-20T16:16:58+9",
            "1",
        ] {
            assert_eq!(iso(text), "none", "{text}");
        }
    }

    #[test]
    fn epoch_values_as_numbers_or_strings() {
        let n = parse_value(&Value::Float(1588205199.82437)).unwrap();
        let s = parse_value(&Value::Str("1588205199.824370".into())).unwrap();
        assert_eq!(n, s);
        assert_eq!(n.to_string(), "2020-04-30T00:06:39.824370Z");
    }
}
