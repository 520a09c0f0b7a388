//! The three reports: the SQL each runs over the lake, and what is computed from it.
//!
//! Values a person typed (a patient id, an account, times) reach SQL only as parameters,
//! never as SQL text. Values read from the lake itself (incident paths and accounts, event
//! ids) are quoted as literals.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use datafusion::arrow::json::ArrayWriter;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde_json::{Map, Value};
use ward_schemas::Triage;
use ward_schemas::names::UserName;

use super::{Period, Report, Section};

/// The hop column of evidence that is not a step between hosts: the EHR access after it.
const FOLLOW_UP: &str = "EHR access";

/// Rows of `sql` with `params` bound to `$1`, `$2`, ..., as JSON objects. Only queries
/// run: see [`crate::query::read_only`].
pub(crate) async fn rows(
    ctx: &SessionContext,
    sql: &str,
    params: Vec<ScalarValue>,
) -> Result<Vec<Row>> {
    let frame = ctx.sql_with_options(sql, crate::query::read_only());
    let frame = frame.await.context("the query does not plan")?;
    let frame = frame
        .with_param_values(params)
        .context("the query takes other parameter values")?;
    let batches = frame.collect().await.context("the query failed")?;
    let mut writer = ArrayWriter::new(Vec::new());
    for batch in &batches {
        writer.write(batch).context("cannot encode the rows")?;
    }
    writer.finish().context("cannot encode the rows")?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).context("cannot decode the rows")
}

/// One result row: column name to value.
pub(crate) type Row = Map<String, Value>;

/// The period's bounds as parameters: start and end times, and the dates that bound the
/// `date` partitions, so a one-day report reads one day's folders.
fn bounds(period: &Period) -> [ScalarValue; 4] {
    let from = period.from.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let to = period.to.unwrap_or(DateTime::<Utc>::MAX_UTC);
    let micros = |time: DateTime<Utc>| {
        ScalarValue::TimestampMicrosecond(Some(time.timestamp_micros()), Some("UTC".into()))
    };
    let date = |time: DateTime<Utc>| ScalarValue::from(time.format("%Y-%m-%d").to_string());
    // The widest dates any partition can have, when no bound is given.
    let first_date = period.from.map_or(ScalarValue::from("0000-01-01"), date);
    let last_date = period.to.map_or(ScalarValue::from("9999-12-31"), date);
    [micros(from), micros(to), first_date, last_date]
}

fn describe_period(period: &Period) -> String {
    let side = |time: Option<DateTime<Utc>>, open: &str| {
        time.map_or_else(|| open.to_owned(), |time| time.to_rfc3339())
    };
    format!(
        "{} to {}",
        side(period.from, "the start"),
        side(period.to, "now")
    )
}

/// An incident as the lake holds it, at its latest state.
struct Known {
    row: Row,
    first_seen: DateTime<Utc>,
    path: BTreeSet<String>,
    users: BTreeSet<String>,
}

/// Every incident, each at its latest state: `ward run` writes an incident again each
/// time it grows, so the row with the most evidence wins.
async fn incidents(ctx: &SessionContext) -> Result<Vec<Known>> {
    let sql = "SELECT incident_id, first_seen, last_seen, path, users, techniques, severity, \
               score, reason, evidence, patients_affected, triage, hops FROM incidents";
    let mut latest: BTreeMap<String, Row> = BTreeMap::new();
    for row in rows(ctx, sql, Vec::new()).await? {
        let id = text(&row, "incident_id");
        let size = |row: &Row| (list(row, "evidence").len(), text(row, "last_seen"));
        match latest.get(&id) {
            Some(kept) if size(kept) >= size(&row) => {}
            _ => {
                latest.insert(id, row);
            }
        }
    }
    let mut known: Vec<Known> = latest
        .into_values()
        .map(|row| Known {
            first_seen: time(&row, "first_seen").unwrap_or(DateTime::<Utc>::MIN_UTC),
            path: list(&row, "path").into_iter().collect(),
            users: list(&row, "users").into_iter().collect(),
            row,
        })
        .collect();
    known.sort_by_key(|incident| incident.first_seen);
    Ok(known)
}

/// Every access to one patient's record.
pub async fn patient_access(
    ctx: &SessionContext,
    patient: &str,
    period: &Period,
) -> Result<Report> {
    let sql = "SELECT time, user, COALESCE(src_host, src_ip) AS workstation, host AS system, \
               ehr_action AS action, ehr_resource AS resource, purpose_of_use, break_glass, \
               source_format AS log, event_id FROM events \
               WHERE source = 'ehr' AND class = 'ehr_activity' AND patient_id = $1 \
               AND time >= $2 AND time < $3 AND date >= $4 AND date <= $5 \
               ORDER BY time, event_id";
    let [from, to, first_date, last_date] = bounds(period);
    let params = vec![ScalarValue::from(patient), from, to, first_date, last_date];
    let mut accesses = rows(ctx, sql, params).await?;
    let known = incidents(ctx).await?;

    // An access belongs to an incident when its account or workstation is on the
    // incident and it came after the incident's first step: the accesses that count
    // toward the incident's affected patients.
    let mut involved = BTreeSet::new();
    for access in &mut accesses {
        let at = time(access, "time");
        let user = text(access, "user");
        let workstation = text(access, "workstation");
        let ids: Vec<String> = known
            .iter()
            .filter(|incident| at.is_some_and(|at| at >= incident.first_seen))
            .filter(|incident| {
                incident.users.contains(&user) || incident.path.contains(&workstation)
            })
            .map(|incident| text(&incident.row, "incident_id"))
            .collect();
        involved.extend(ids.iter().cloned());
        access.insert("incident".into(), Value::from(ids.join(", ")));
    }

    let users: BTreeSet<String> = accesses.iter().map(|a| text(a, "user")).collect();
    let glass = accesses
        .iter()
        .filter(|a| a.get("break_glass") == Some(&Value::Bool(true)));
    let during = accesses
        .iter()
        .filter(|a| !text(a, "incident").is_empty())
        .count();
    let facts = vec![
        ("Patient".to_owned(), patient.to_owned()),
        ("Period".to_owned(), describe_period(period)),
        ("Accesses".to_owned(), accesses.len().to_string()),
        ("Distinct accounts".to_owned(), users.len().to_string()),
        (
            "Break-the-glass accesses".to_owned(),
            glass.count().to_string(),
        ),
        (
            "Accesses by accounts or workstations of an incident".to_owned(),
            during.to_string(),
        ),
    ];
    let columns = [
        "time",
        "user",
        "workstation",
        "system",
        "action",
        "resource",
        "purpose_of_use",
        "break_glass",
        "incident",
        "log",
        "event_id",
    ];
    let main = section("Accesses to the patient's record", &columns, accesses);
    let incidents = incident_section("Incidents involving these accesses", &known, &involved);
    Ok(report(
        "patient-access",
        format!("Access to patient {patient}"),
        facts,
        vec![main, incidents],
    ))
}

/// Everything one account did.
pub async fn user_activity(ctx: &SessionContext, user: &str, period: &Period) -> Result<Report> {
    let Some(account) = UserName::parse(user, None) else {
        bail!("{user:?} is not an account name");
    };
    let sql = "SELECT e.time, e.source, e.class, e.activity, e.event_code, e.host, \
               COALESCE(e.src_host, e.src_ip) AS src, COALESCE(e.dst_host, e.dst_ip) AS dst, \
               e.dst_port, e.logon_type, e.process_name, e.command_line, e.patient_id, \
               e.ehr_action, e.outcome, s.rules, e.event_id \
               FROM events e LEFT JOIN (SELECT event_id, string_agg(rule_id, ', ') AS rules \
               FROM signals GROUP BY event_id) s ON e.event_id = s.event_id \
               WHERE e.user = $1 AND e.time >= $2 AND e.time < $3 \
               AND e.date >= $4 AND e.date <= $5 ORDER BY e.time, e.event_id";
    let [from, to, first_date, last_date] = bounds(period);
    let params = vec![
        ScalarValue::from(account.user.as_str()),
        from,
        to,
        first_date,
        last_date,
    ];
    let activity = rows(ctx, sql, params).await?;
    let known = incidents(ctx).await?;
    let involved: BTreeSet<String> = known
        .iter()
        .filter(|incident| incident.users.contains(&account.user))
        .map(|incident| text(&incident.row, "incident_id"))
        .collect();

    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    for row in &activity {
        *by_source.entry(text(row, "source")).or_default() += 1;
    }
    let per_source: Vec<String> = by_source.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let hosts: BTreeSet<String> = activity.iter().map(|row| text(row, "host")).collect();
    let patients: BTreeSet<String> = activity
        .iter()
        .map(|row| text(row, "patient_id"))
        .filter(|id| !id.is_empty())
        .collect();
    let flagged = activity
        .iter()
        .filter(|row| !text(row, "rules").is_empty())
        .count();
    let facts = vec![
        ("Account".to_owned(), account.user.clone()),
        ("Period".to_owned(), describe_period(period)),
        (
            "Events".to_owned(),
            format!("{} ({})", activity.len(), per_source.join(", ")),
        ),
        ("Hosts".to_owned(), hosts.len().to_string()),
        (
            "Distinct patients' records touched".to_owned(),
            patients.len().to_string(),
        ),
        (
            "Events a detection rule flagged".to_owned(),
            flagged.to_string(),
        ),
        (
            "Incidents involving the account".to_owned(),
            involved.len().to_string(),
        ),
    ];
    let columns = [
        "time",
        "source",
        "class",
        "activity",
        "event_code",
        "host",
        "src",
        "dst",
        "dst_port",
        "logon_type",
        "process_name",
        "command_line",
        "patient_id",
        "ehr_action",
        "outcome",
        "rules",
        "event_id",
    ];
    let main = section("Activity, in time order", &columns, activity);
    let incidents = incident_section("Incidents involving the account", &known, &involved);
    let title = format!("Activity of {}", account.user);
    Ok(report("user-activity", title, facts, vec![main, incidents]))
}

/// One incident's timeline, hops and affected patients.
pub async fn incident(ctx: &SessionContext, id: &str) -> Result<Report> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{id:?} is not an incident id (32 hex digits, as the incidents table shows)");
    }
    let known = incidents(ctx).await?;
    let Some(incident) = known
        .iter()
        .find(|known| text(&known.row, "incident_id") == id)
    else {
        bail!("no incident {id} in the lake");
    };
    let row = &incident.row;
    let hops: Vec<Value> =
        serde_json::from_str(&text(row, "hops")).context("the incident's hops are not JSON")?;

    // Evidence events in time order, each with the hop it proves (or, for the EHR access
    // that qualified the chain, none) and the rules that fired.
    let mut hop_of: BTreeMap<String, String> = BTreeMap::new();
    for event in list(row, "evidence") {
        hop_of.insert(event, FOLLOW_UP.to_owned());
    }
    for hop in &hops {
        let step = format!("{} -> {}", field(hop, "from"), field(hop, "to"));
        for event in hop["evidence"].as_array().into_iter().flatten() {
            if let Some(event) = event.as_str() {
                hop_of.insert(event.to_owned(), step.clone());
            }
        }
    }
    let ids: Vec<String> = hop_of.keys().map(|event| literal(event)).collect();
    let timeline = if ids.is_empty() {
        Vec::new()
    } else {
        let sql = format!(
            "SELECT e.time, e.host, e.source_format AS log, e.event_code, e.class, e.user, \
             COALESCE(e.src_host, e.src_ip) AS src, COALESCE(e.dst_host, e.dst_ip) AS dst, \
             s.rules, s.summary, e.event_id FROM events e LEFT JOIN (SELECT event_id, \
             string_agg(rule_id, ', ') AS rules, min(summary) AS summary FROM signals \
             GROUP BY event_id) s ON e.event_id = s.event_id WHERE e.event_id IN ({}) \
             ORDER BY e.time, e.event_id",
            ids.join(", ")
        );
        let mut timeline = rows(ctx, &sql, Vec::new()).await?;
        for event in &mut timeline {
            let step = hop_of
                .get(&text(event, "event_id"))
                .cloned()
                .unwrap_or_default();
            event.insert("hop".into(), Value::from(step));
        }
        timeline
    };

    // The patients whose records the incident's accounts or hosts touched after its first
    // step: whom a breach notice would go to.
    let users: Vec<String> = incident.users.iter().map(|user| literal(user)).collect();
    let hosts: Vec<String> = incident.path.iter().map(|host| literal(host)).collect();
    let who = match (users.is_empty(), hosts.is_empty()) {
        (true, true) => "FALSE".to_owned(),
        (false, true) => format!("user IN ({})", users.join(", ")),
        (true, false) => format!("src_host IN ({})", hosts.join(", ")),
        (false, false) => format!(
            "(user IN ({}) OR src_host IN ({}))",
            users.join(", "),
            hosts.join(", ")
        ),
    };
    let sql = format!(
        "SELECT patient_id, min(time) AS first_access, max(time) AS last_access, \
         count(*) AS accesses, array_to_string(array_agg(DISTINCT user), ', ') AS users \
         FROM events WHERE source = 'ehr' AND class = 'ehr_activity' \
         AND patient_id IS NOT NULL AND time >= $1 AND {who} \
         GROUP BY patient_id ORDER BY first_access, patient_id"
    );
    let first = ScalarValue::TimestampMicrosecond(
        Some(incident.first_seen.timestamp_micros()),
        Some("UTC".into()),
    );
    let patients = rows(ctx, &sql, vec![first]).await?;

    let hop_rows: Vec<Row> = hops
        .iter()
        .map(|hop| {
            let mut row = Row::new();
            for key in ["from", "to", "first_seen", "last_seen"] {
                row.insert(key.into(), Value::from(field(hop, key)));
            }
            let evidence = hop["evidence"].as_array().map_or(0, Vec::len);
            row.insert("evidence".into(), Value::from(evidence));
            for key in ["users", "techniques"] {
                row.insert(key.into(), Value::from(list(hop_map(hop), key).join(", ")));
            }
            row
        })
        .collect();

    let triage = text(row, "triage");
    let explained = match triage.as_str() {
        "hhs_and_media_within_60_days" => Triage::HhsAndMediaWithin60Days.explain(),
        _ => Triage::AnnualLog.explain(),
    };
    let path = list(row, "path");
    let facts = vec![
        ("Incident".to_owned(), id.clone()),
        (
            "Severity".to_owned(),
            format!("{} (score {})", text(row, "severity"), text(row, "score")),
        ),
        ("Why".to_owned(), text(row, "reason")),
        ("First seen".to_owned(), text(row, "first_seen")),
        ("Last seen".to_owned(), text(row, "last_seen")),
        ("Path".to_owned(), path.join(" -> ")),
        ("Accounts".to_owned(), list(row, "users").join(", ")),
        ("Techniques".to_owned(), list(row, "techniques").join(", ")),
        (
            "Patients affected".to_owned(),
            text(row, "patients_affected"),
        ),
        ("Breach triage".to_owned(), format!("{triage}: {explained}")),
    ];
    let timeline_columns = [
        "time",
        "hop",
        "host",
        "log",
        "event_code",
        "class",
        "user",
        "src",
        "dst",
        "rules",
        "summary",
        "event_id",
    ];
    let hop_columns = [
        "from",
        "to",
        "first_seen",
        "last_seen",
        "evidence",
        "users",
        "techniques",
    ];
    let patient_columns = [
        "patient_id",
        "first_access",
        "last_access",
        "accesses",
        "users",
    ];
    let sections = vec![
        section("Timeline of the evidence", &timeline_columns, timeline),
        section("Hops", &hop_columns, hop_rows),
        section(
            "Patients whose records were touched after the first hop",
            &patient_columns,
            patients,
        ),
    ];
    let mut report = report("incident", format!("Incident {id}"), facts, sections);
    report.path = path;
    Ok(report)
}

fn incident_section(title: &str, known: &[Known], ids: &BTreeSet<String>) -> Section {
    let rows = known
        .iter()
        .filter(|incident| ids.contains(&text(&incident.row, "incident_id")))
        .map(|incident| {
            let mut row = Row::new();
            for key in [
                "incident_id",
                "first_seen",
                "severity",
                "patients_affected",
                "triage",
            ] {
                row.insert(
                    key.into(),
                    incident.row.get(key).cloned().unwrap_or(Value::Null),
                );
            }
            row.insert(
                "path".into(),
                Value::from(list(&incident.row, "path").join(" -> ")),
            );
            row.insert(
                "users".into(),
                Value::from(list(&incident.row, "users").join(", ")),
            );
            row
        })
        .collect();
    let columns = [
        "incident_id",
        "first_seen",
        "path",
        "users",
        "severity",
        "patients_affected",
        "triage",
    ];
    section(title, &columns, rows)
}

fn section(title: &str, columns: &[&str], rows: Vec<Row>) -> Section {
    Section {
        title: title.to_owned(),
        columns: columns.iter().map(|&column| column.to_owned()).collect(),
        rows,
    }
}

fn report(
    kind: &'static str,
    title: String,
    facts: Vec<(String, String)>,
    sections: Vec<Section>,
) -> Report {
    Report {
        kind,
        title,
        facts,
        path: Vec::new(),
        sections,
        lake: String::new(),
        head: String::new(),
        generated: Utc::now(),
    }
}

/// A row's value as text: strings as they are, numbers and booleans written out, absent
/// and null values empty.
pub fn text(row: &Row, key: &str) -> String {
    match row.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// A list column's strings.
fn list(row: &Row, key: &str) -> Vec<String> {
    let items = row.get(key).and_then(Value::as_array).into_iter().flatten();
    items.filter_map(Value::as_str).map(str::to_owned).collect()
}

fn hop_map(hop: &Value) -> &Row {
    static EMPTY: std::sync::LazyLock<Row> = std::sync::LazyLock::new(Row::new);
    hop.as_object().unwrap_or(&EMPTY)
}

fn field(hop: &Value, key: &str) -> String {
    text(hop_map(hop), key)
}

/// A time column, as the JSON writer renders timestamps.
fn time(row: &Row, key: &str) -> Option<DateTime<Utc>> {
    let text = text(row, key);
    if let Ok(time) = DateTime::parse_from_rfc3339(&text) {
        return Some(time.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc())
}

/// A SQL string literal of a value read from the lake.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}
