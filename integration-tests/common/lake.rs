//! Running `ward run` as a child process and reading the lake it writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{json_lines, ward};

/// Batches small and frequent, and a short session timeout: the group's first join
/// takes about half of it.
pub const FAST_CONFIG: &str = r#"
[batch]
max_rows = 2000
max_wait = "300ms"

[kafka]
session_timeout = "6s"
"#;

/// A `ward run` child process.
pub struct WardRun {
    child: Child,
    pub log: PathBuf,
}

impl WardRun {
    /// Starts `ward run` on `topics` into `lake`, with `extra` flags, logging to a file in
    /// `dir`. The consumer group is `tests` unless `extra` names one.
    pub fn start(dir: &Path, broker: &str, topics: &str, lake: &Path, extra: &[&str]) -> Self {
        WardRun::start_with(dir, broker, topics, lake, extra, "")
    }

    /// Like [`WardRun::start`], with `config` (top-level TOML keys) before the fast
    /// settings.
    pub fn start_with(
        dir: &Path,
        broker: &str,
        topics: &str,
        lake: &Path,
        extra: &[&str],
        config: &str,
    ) -> Self {
        let config_text = format!("{config}\n{FAST_CONFIG}");
        let config = dir.join("ward.toml");
        std::fs::write(&config, config_text).expect("a config file");
        let n = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let log = dir.join(format!("ward-{n}.log"));
        let file = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["run", "--brokers", broker, "--topics", topics])
            .args(if extra.contains(&"--group") {
                &[][..]
            } else {
                &["--group", "tests"][..]
            })
            .arg("--lake")
            .arg(lake)
            .arg("--config")
            .arg(&config)
            .args(extra)
            .env("WARD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("ward starts");
        WardRun { child, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with SIGKILL, as a crash would.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks it to stop with SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for it to exit, at most `limit`.
    pub fn wait(mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("ward run did not exit in {limit:?}; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Rows of a SQL query over the lake, as JSON objects.
pub fn query(lake: &Path, sql: &str) -> Vec<Value> {
    let output = ward(&[
        "query",
        "--lake",
        lake.to_str().expect("utf-8 path"),
        "--format",
        "json",
        sql,
    ]);
    assert!(
        output.status.success(),
        "ward query failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    json_lines(&output.stdout)
}

/// A single number from a query such as `SELECT count(*) AS n FROM events`.
pub fn count(lake: &Path, sql: &str) -> u64 {
    let rows = query(lake, sql);
    let row = rows.first().and_then(Value::as_object).expect("one row");
    row.values()
        .next()
        .and_then(Value::as_u64)
        .expect("a number")
}
