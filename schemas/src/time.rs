//! Event time: UTC, microseconds.
//!
//! Every timestamp in the schema is a count of microseconds since the Unix epoch, UTC, the
//! same unit as the Arrow and Parquet columns (`Timestamp(Microsecond, "UTC")`). Sources
//! that log local time with a zone offset are converted; sources that log a bare local
//! time with no zone are taken as UTC by the normalizer that reads them, and its docs say
//! so, because there is nothing better to go on.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From a chrono time in any zone.
    pub fn from_datetime<Tz: chrono::TimeZone>(time: &DateTime<Tz>) -> Self {
        Timestamp(time.timestamp_micros())
    }

    /// From fractional seconds since the epoch, as Zeek logs `ts`. `None` for values that
    /// are not finite or fall outside the years 1677 to 2262.
    pub fn from_epoch_seconds(seconds: f64) -> Option<Self> {
        let micros = (seconds * 1_000_000.0).round();
        // The bounds keep the cast exact and the value printable.
        if micros.is_finite() && micros.abs() < 9.2e18 {
            Some(Timestamp(micros as i64))
        } else {
            None
        }
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The same instant as a chrono UTC time, if it is within chrono's range.
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.0)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with microseconds and a `Z`, such as `2020-09-20T16:16:56.010000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(time) => f.write_str(&time.to_rfc3339_opts(SecondsFormat::Micros, true)),
            None => write!(f, "{}us", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_keep_microseconds() {
        let ts = Timestamp::from_epoch_seconds(1588205199.82437).expect("in range");
        assert_eq!(ts.to_string(), "2020-04-30T00:06:39.824370Z");
    }

    #[test]
    fn absurd_epoch_seconds_are_rejected() {
        assert!(Timestamp::from_epoch_seconds(f64::NAN).is_none());
        assert!(Timestamp::from_epoch_seconds(1e300).is_none());
    }
}
