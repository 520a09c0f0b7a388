//! EHR access logs as CSV, in the shape of Epic Clarity's `ACCESS_LOG` export.
//!
//! No real sample of such an export is public, so this format is ward's own design: one row
//! per access to a patient's chart, with a header row naming the columns. Columns are found
//! by name, case-insensitive and ignoring spaces, underscores and hyphens, so Clarity's own
//! column names work as well as ward's; unknown columns are ignored (`raw` keeps them). A
//! row that arrives without its header (one Kafka message per row) is read with the
//! default header [`EHR_ACCESS_COLUMNS`].
//!
//! | column (default name first, then aliases) | ward column |
//! |---|---|
//! | `access_time`, `ACCESS_INSTANT` | `time` (required) |
//! | `user_id`, `EMP_ID` | `user` (required) |
//! | `workstation_id`, `WORKSTN_ID` | `src_host` (short name), or `src_ip` for an address |
//! | `patient_mrn`, `PAT_MRN_ID`, `MRN`; else `patient_id`, `PAT_ID` | `patient_id` (required) |
//! | `action`, `METRIC_NAME` | `activity`, `ehr_action`, `ehr_resource` (see below) |
//! | `department`, `DEPT` | none: kept in `raw` only |
//! | `break_glass_reason`, `BTG_REASON`, `BREAK_THE_GLASS_REASON` | `break_glass` |
//! | `purpose_of_use` (optional) | `purpose_of_use` |
//! | `ip_address` (optional) | `src_ip` |
//!
//! Design choices:
//! - Every event is `ehr_activity` with outcome success: an access log lists the accesses
//!   that happened.
//! - The action is read as words: `view`, `read`, `open`, `review`, `access`, `search`,
//!   `print`, `export`, `download` make a read; `create`, `add`, `new` a create; `edit`,
//!   `modify`, `update`, `change`, `amend`, `sign` an update; `delete`, `remove`, `void` a
//!   delete; `execute`, `run` an execute; `C`/`R`/`U`/`D`/`E` as in DICOM. The verb is the
//!   activity and `ehr_action`; an action with no known word has activity `other` and no
//!   `ehr_action`. Printing and exporting are reads: the data left the record, it did not
//!   change.
//! - When the action is more than a bare verb (Clarity's metric names, such as
//!   `Chart Review` or `Print AVS`), it is kept as logged in `ehr_resource`: it names the
//!   part of the chart that was touched.
//! - The department is the user's, not the record's, and the schema has no column for it;
//!   it is not put in `ehr_resource`, where it would read as what was accessed.
//! - `break_glass` is true when a break-the-glass reason is given and false otherwise; the
//!   purpose of use is the `purpose_of_use` column, else `ETREAT` for break-the-glass rows.
//! - A time without a zone (`2024-03-04 08:15:02` or ISO 8601 without offset) is taken as
//!   UTC. Clarity stores local time, so an export should convert to UTC or write an offset.
//! - A row repeating the header is not an event; a row whose field count differs from its
//!   header's is malformed.

use ward_schemas::names::HostName;
use ward_schemas::{Class, Event, Outcome};

use super::atna::vocab;
use crate::record::Record;
use crate::{Format, NormalizeError, timefmt};

const FORMAT: Format = Format::EhrAccessCsv;

/// The default header of an EHR access log, used for rows that arrive without one.
pub const EHR_ACCESS_COLUMNS: &[&str] = &[
    "access_time",
    "user_id",
    "workstation_id",
    "patient_mrn",
    "action",
    "department",
    "break_glass_reason",
];

/// What a CSV column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    AccessTime,
    UserId,
    WorkstationId,
    PatientMrn,
    PatientId,
    Action,
    Department,
    BreakGlassReason,
    PurposeOfUse,
    IpAddress,
    Unknown,
}

/// Column names, lowercase without spaces, underscores or hyphens.
const ALIASES: &[(&str, Column)] = &[
    ("accesstime", Column::AccessTime),
    ("accessinstant", Column::AccessTime),
    ("userid", Column::UserId),
    ("empid", Column::UserId),
    ("workstationid", Column::WorkstationId),
    ("workstnid", Column::WorkstationId),
    ("patientmrn", Column::PatientMrn),
    ("patmrnid", Column::PatientMrn),
    ("mrn", Column::PatientMrn),
    ("patientid", Column::PatientId),
    ("patid", Column::PatientId),
    ("action", Column::Action),
    ("metricname", Column::Action),
    ("department", Column::Department),
    ("dept", Column::Department),
    ("breakglassreason", Column::BreakGlassReason),
    ("btgreason", Column::BreakGlassReason),
    ("breaktheglassreason", Column::BreakGlassReason),
    ("purposeofuse", Column::PurposeOfUse),
    ("ipaddress", Column::IpAddress),
];

impl Column {
    /// The column a header name denotes; a name ward does not know is `Unknown`.
    fn of_name(name: &str) -> Column {
        let key: String = name
            .trim_start_matches('\u{feff}')
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map_or(Column::Unknown, |(_, c)| *c)
    }
}

/// The fields of one row, by what they hold; empty fields are absent.
#[derive(Debug, Default)]
struct Row<'a> {
    time: Option<&'a str>,
    user: Option<&'a str>,
    workstation: Option<&'a str>,
    mrn: Option<&'a str>,
    patient_id: Option<&'a str>,
    action: Option<&'a str>,
    break_glass_reason: Option<&'a str>,
    purpose: Option<&'a str>,
    ip: Option<&'a str>,
}

/// Normalizes one CSV data row, read with its file's header or the default one.
pub(crate) fn normalize(
    header: Option<&[String]>,
    record: &Record<'_>,
    out: &mut Vec<Event>,
) -> Result<(), NormalizeError> {
    let origin = super::origin(record, FORMAT)?;
    let fields = parse_row(origin.raw)?;
    let columns: Vec<Column> = match header {
        Some(names) => names.iter().map(|n| Column::of_name(n)).collect(),
        None => EHR_ACCESS_COLUMNS
            .iter()
            .map(|n| Column::of_name(n))
            .collect(),
    };
    if fields.len() != columns.len() {
        return Err(NormalizeError::Malformed {
            format: FORMAT,
            detail: format!(
                "row has {} fields where its header has {}",
                fields.len(),
                columns.len()
            ),
        });
    }
    let row = Row::read(&columns, &fields);
    if row
        .time
        .is_some_and(|t| Column::of_name(t) == Column::AccessTime)
    {
        return Err(NormalizeError::NotAnEvent {
            format: FORMAT,
            reason: "a header row".into(),
        });
    }

    let time_text = row.time.ok_or_else(|| missing("access_time"))?;
    let time = timefmt::parse_iso(time_text).ok_or(NormalizeError::InvalidField {
        format: FORMAT,
        field: "access_time",
        reason: "not an ISO 8601 date-time",
    })?;
    let user = row.user.ok_or_else(|| missing("user_id"))?;
    let patient = row
        .mrn
        .or(row.patient_id)
        .ok_or_else(|| missing("patient_mrn"))?;
    let (verb, bare) = row.action.map_or((None, false), action_verb);

    let mut event = Event::new(origin, time, Class::EhrActivity, verb.unwrap_or("other"));
    event.observed_time = record.received;
    event.outcome = Some(Outcome::Success);
    event.set_user(user, None);
    event.patient_id = Some(patient.to_owned());
    event.ehr_action = verb.map(str::to_owned);
    event.ehr_resource = row.action.filter(|_| !bare).map(str::to_owned);
    event.src_ip = row.ip.map(str::to_owned);
    if let Some(point) = row.workstation.and_then(|w| vocab::network_point(w, None)) {
        vocab::fill_source(&mut event, point);
    } else if let Some(name) = row.workstation.and_then(HostName::parse) {
        // Free-text workstation ids (`ED Bay 3`) are still the user's workstation.
        event.src_host = Some(name.host);
    }
    let break_glass = row.break_glass_reason.is_some();
    event.break_glass = Some(break_glass);
    event.purpose_of_use = match row.purpose {
        Some(purpose) => Some(purpose.to_owned()),
        None => break_glass.then(|| "ETREAT".to_owned()),
    };

    out.push(event);
    Ok(())
}

/// The error for a row without a required field.
fn missing(field: &'static str) -> NormalizeError {
    NormalizeError::MissingField {
        format: FORMAT,
        field,
    }
}

impl<'a> Row<'a> {
    /// Files each field under its column; the first non-empty value of a column wins.
    fn read(columns: &[Column], fields: &'a csv::StringRecord) -> Self {
        let mut row = Row::default();
        for (column, value) in columns.iter().zip(fields.iter()) {
            let value = value.trim();
            if value.is_empty() || value == "-" {
                continue;
            }
            let slot = match column {
                Column::AccessTime => &mut row.time,
                Column::UserId => &mut row.user,
                Column::WorkstationId => &mut row.workstation,
                Column::PatientMrn => &mut row.mrn,
                Column::PatientId => &mut row.patient_id,
                Column::Action => &mut row.action,
                Column::BreakGlassReason => &mut row.break_glass_reason,
                Column::PurposeOfUse => &mut row.purpose,
                Column::IpAddress => &mut row.ip,
                Column::Department | Column::Unknown => continue,
            };
            slot.get_or_insert(value);
        }
        row
    }
}

/// Parses exactly one CSV row, with RFC 4180 quoting.
fn parse_row(text: &str) -> Result<csv::StringRecord, NormalizeError> {
    let malformed = |detail: &str| NormalizeError::Malformed {
        format: FORMAT,
        detail: detail.into(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut fields = csv::StringRecord::new();
    match reader.read_record(&mut fields) {
        Ok(true) => {}
        Ok(false) => return Err(malformed("empty row")),
        Err(_) => return Err(malformed("unreadable CSV row")),
    }
    let mut next = csv::StringRecord::new();
    if reader.read_record(&mut next).unwrap_or(true) {
        return Err(malformed("more than one CSV row in one record"));
    }
    Ok(fields)
}

/// The verb of an access log action, and whether the action is nothing but that verb.
fn action_verb(action: &str) -> (Option<&'static str>, bool) {
    if let Some(verb) = vocab::action_verb(action) {
        return (Some(verb), true);
    }
    let mut words = action
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty());
    let word_count = words.clone().count();
    let verb = words.find_map(|word| verb_of_word(&word.to_lowercase()));
    (verb, verb.is_some() && word_count == 1)
}

/// The verb an action word stands for, if it is one ward knows.
fn verb_of_word(word: &str) -> Option<&'static str> {
    let verb = match word {
        "view" | "viewed" | "read" | "open" | "opened" | "review" | "reviewed" | "access"
        | "accessed" | "lookup" | "search" | "searched" | "query" | "print" | "printed"
        | "export" | "exported" | "download" | "downloaded" => "read",
        "create" | "created" | "add" | "added" | "new" | "insert" => "create",
        "edit" | "edited" | "modify" | "modified" | "update" | "updated" | "change" | "changed"
        | "amend" | "amended" | "sign" | "signed" => "update",
        "delete" | "deleted" | "remove" | "removed" | "void" | "voided" => "delete",
        "execute" | "executed" | "run" => "execute",
        _ => return None,
    };
    Some(verb)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::record::Hint;
    use crate::{DeadLetter, FormatChoice, Normalizer};

    fn run(header: Option<&[&str]>, row: &str) -> Result<Event, NormalizeError> {
        let header: Option<Vec<String>> = header.map(|h| h.iter().map(|s| s.to_string()).collect());
        let record = Record::new(row.as_bytes(), "access.csv:2");
        let mut out = Vec::new();
        normalize(header.as_deref(), &record, &mut out)?;
        assert_eq!(out.len(), 1);
        Ok(out.remove(0))
    }

    #[test]
    fn row_without_header_uses_the_default_columns() {
        let row = "2024-03-04T08:15:02Z,nurse.test01,WS-ED-01.hospital.example,FAKE000101,\
                   Chart Review,Emergency,\r\n";
        let event = run(None, row).expect("the fixture normalizes");
        assert_eq!(event.class, Class::EhrActivity);
        assert_eq!(event.time.to_string(), "2024-03-04T08:15:02.000000Z");
        assert_eq!(event.user.as_deref(), Some("nurse.test01"));
        assert_eq!(event.src_host.as_deref(), Some("ws-ed-01"));
        assert_eq!(event.patient_id.as_deref(), Some("FAKE000101"));
        assert_eq!(
            (event.activity.as_str(), event.ehr_action.as_deref()),
            ("read", Some("read"))
        );
        assert_eq!(event.ehr_resource.as_deref(), Some("Chart Review"));
        assert_eq!(
            (event.break_glass, event.purpose_of_use.as_deref()),
            (Some(false), None)
        );
        assert_eq!(event.outcome, Some(Outcome::Success));
        assert_eq!(event.raw, row.trim_end());
        assert_eq!(event.source_format, "ehr-access-csv");
    }

    #[test]
    fn clarity_header_quoting_and_break_the_glass() {
        let header = [
            "ACCESS_INSTANT",
            "EMP_ID",
            "WORKSTN_ID",
            "PAT_MRN_ID",
            "METRIC_NAME",
            "DEPT",
            "BTG_REASON",
            "IP Address",
            "LINE",
        ];
        let row = concat!(
            r#"2024-03-04 09:02:33,TESTDOM\dr.test03,ICU-03,FAKE000199,Open Chart,"ICU, North","#,
            r#""Unresponsive, emergency",10.0.0.7,1"#
        );
        let event = run(Some(&header), row).expect("the fixture normalizes");
        assert_eq!(event.time.to_string(), "2024-03-04T09:02:33.000000Z");
        assert_eq!(event.user.as_deref(), Some("dr.test03"));
        assert_eq!(event.user_domain.as_deref(), Some("testdom"));
        assert_eq!(event.src_host.as_deref(), Some("icu-03"));
        assert_eq!(event.src_ip.as_deref(), Some("10.0.0.7"));
        assert_eq!(event.break_glass, Some(true));
        assert_eq!(event.purpose_of_use.as_deref(), Some("ETREAT"));
        assert_eq!(event.ehr_action.as_deref(), Some("read"));
    }

    #[test]
    fn purpose_column_wins_over_the_break_glass_default() {
        let header = [EHR_ACCESS_COLUMNS, &["purpose_of_use"]].concat();
        let row = "2024-03-04T09:00:00+01:00,dr.test03,WS1,FAKE1,view,ED,Code blue,BTG";
        let event = run(Some(&header), row).expect("the fixture normalizes");
        assert_eq!(event.time.to_string(), "2024-03-04T08:00:00.000000Z");
        assert_eq!(event.purpose_of_use.as_deref(), Some("BTG"));
        assert_eq!(event.break_glass, Some(true));
        // A bare verb names no part of the record.
        assert_eq!(event.ehr_resource, None);
    }

    #[test]
    fn actions_read_as_verbs() {
        assert_eq!(action_verb("Chart Review"), (Some("read"), false));
        assert_eq!(action_verb("view"), (Some("read"), true));
        assert_eq!(action_verb("R"), (Some("read"), true));
        assert_eq!(action_verb("Edit Problem List"), (Some("update"), false));
        assert_eq!(action_verb("Print AVS"), (Some("read"), false));
        assert_eq!(
            action_verb("Delete Duplicate Note"),
            (Some("delete"), false)
        );
        assert_eq!(action_verb("MAR"), (None, false));
    }

    #[test]
    fn bad_rows_are_refused_without_quoting_them() {
        let wrong_count = run(None, "2024-03-04T08:15:02Z,nurse.test01,FAKE000101")
            .expect_err("the record is refused");
        assert!(matches!(wrong_count, NormalizeError::Malformed { .. }));
        assert!(
            wrong_count
                .to_string()
                .contains("3 fields where its header has 7")
        );
        assert!(!wrong_count.to_string().contains("FAKE"), "{wrong_count}");

        let bad_time = run(None, "FAKE000107 o'clock,u1,ws1,FAKE000107,view,ED,")
            .expect_err("the record is refused");
        assert!(matches!(
            bad_time,
            NormalizeError::InvalidField {
                field: "access_time",
                ..
            }
        ));
        assert!(!bad_time.to_string().contains("FAKE"), "{bad_time}");

        let no_user = run(None, "2024-03-04T08:15:02Z,,ws1,FAKE1,view,ED,")
            .expect_err("the record is refused");
        assert_eq!(no_user, missing("user_id"));
        let no_patient =
            run(None, "2024-03-04T08:15:02Z,u1,ws1, ,view,ED,").expect_err("the record is refused");
        assert_eq!(no_patient, missing("patient_mrn"));
        let no_time = run(None, ",u1,ws1,FAKE1,view,ED,").expect_err("the record is refused");
        assert_eq!(no_time, missing("access_time"));

        let two_rows = run(
            None,
            "2024-03-04T08:15:02Z,u1,ws1,F1,view,ED,\n2024-03-04T08:15:02Z,u1,ws1,F1,view,ED,",
        );
        assert!(matches!(two_rows, Err(NormalizeError::Malformed { .. })));
    }

    #[test]
    fn a_repeated_header_is_not_an_event() {
        let header_row = EHR_ACCESS_COLUMNS.join(",");
        assert!(matches!(
            run(None, &header_row),
            Err(NormalizeError::NotAnEvent { .. })
        ));
    }

    /// The fixture the integration tests read: 12 rows, one of them bad.
    #[test]
    fn fixture_file_gives_eleven_events_and_one_dead_letter() {
        let text = include_str!("../../tests/fixtures/ehr_access.csv");
        let mut lines = text.split_terminator("\r\n");
        let header: Arc<[String]> = lines
            .next()
            .expect("the fixture has a header")
            .split(',')
            .map(str::to_owned)
            .collect();
        let hint = Hint::Csv(header);

        let normalizer = Normalizer::new(FormatChoice::Auto);
        let (mut events, mut dead): (Vec<Event>, Vec<DeadLetter>) = (Vec::new(), Vec::new());
        for (i, line) in lines.enumerate() {
            let provenance = format!("ehr_access.csv:{}", i + 2);
            let record = Record {
                hint: &hint,
                ..Record::new(line.as_bytes(), &provenance)
            };
            normalizer.normalize(&record, &mut events, &mut dead);
        }

        assert_eq!((events.len(), dead.len()), (11, 1));
        assert_eq!(dead[0].provenance, "ehr_access.csv:11");
        let break_glass: Vec<&Event> = events
            .iter()
            .filter(|e| e.break_glass == Some(true))
            .collect();
        assert_eq!(break_glass.len(), 1);
        assert_eq!(break_glass[0].patient_id.as_deref(), Some("FAKE000199"));
        assert!(events.iter().all(|e| !e.raw.ends_with('\r')));
    }
}
