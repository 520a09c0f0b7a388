//! The lake's own audit trail: who read it, when, what, and how much came back.
//!
//! Every command that reads the lake for a person (`ward query`, the reports) records one
//! row in the `access_log` table before it shows anything: a use that cannot be recorded
//! shows nothing. Rows are committed like any other table, so they sit in the same hash
//! chain and `ward verify` covers them.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::Utc;
use ward_schemas::{Access, Timestamp};
use ward_storage::{Batch, Lake, LakeKey, default_writer_id};

/// A use of the lake, before its outcome is known.
pub struct Use {
    /// `query`, `report`, ...
    pub action: &'static str,
    /// The SQL text, or the report and its arguments.
    pub detail: String,
    /// Who: the operating-system account, or the API token's name.
    actor: String,
    /// How: `cli` or `http`.
    channel: &'static str,
    started: Timestamp,
}

impl Use {
    /// A use starting now, from the command line by the account running ward.
    pub fn start(action: &'static str, detail: String) -> Use {
        Use {
            action,
            detail,
            actor: actor(),
            channel: "cli",
            started: Timestamp::from_datetime(&Utc::now()),
        }
    }

    /// The same use, made through `channel` by `actor` (an API token's name, say).
    pub fn via(mut self, channel: &'static str, actor: &str) -> Use {
        self.channel = channel;
        actor.clone_into(&mut self.actor);
        self
    }

    /// Commits the use to the lake's access log (encrypted with `key` when the lake is)
    /// with its outcome: `Some(rows)` when it succeeded, `None` when it failed.
    pub fn record(self, lake: &Path, key: Option<&LakeKey>, rows: Option<u64>) -> Result<()> {
        let batch = self.batch(rows);
        let recorded = Lake::open_with_key(lake, &default_writer_id(), key.cloned())
            .and_then(|mut lake| lake.commit(batch));
        recorded.map(|_| ()).with_context(|| {
            format!(
                "cannot record this use in the access log of {}, so its result is not shown \
                 (ward audits every read of the lake)",
                lake.display()
            )
        })
    }

    /// [`Use::record`] through a lake already open.
    pub fn commit(self, lake: &mut Lake, rows: Option<u64>) -> Result<()> {
        let root = lake.root().display().to_string();
        lake.commit(self.batch(rows)).map(|_| ()).with_context(|| {
            format!(
                "cannot record this use in the access log of {root}, so its result is not shown"
            )
        })
    }

    /// The access-log row of this use, in a batch of its own.
    fn batch(self, rows: Option<u64>) -> Batch {
        let access = Access {
            time: self.started,
            actor: self.actor,
            channel: self.channel.to_owned(),
            action: self.action.to_owned(),
            detail: self.detail,
            rows: rows.unwrap_or(0),
            outcome: if rows.is_some() { "ok" } else { "error" }.to_owned(),
        };
        let mut batch = Batch::new();
        batch.accesses.push(access);
        batch
    }
}

/// The operating-system account running ward: `USER` or `LOGNAME`, else the numeric uid.
pub fn actor() -> String {
    for variable in ["USER", "LOGNAME"] {
        if let Ok(name) = std::env::var(variable)
            && !name.is_empty()
        {
            return name;
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next());
    match uid {
        Some(uid) => format!("uid:{uid}"),
        None => "unknown".to_owned(),
    }
}
