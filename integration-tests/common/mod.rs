//! What the end-to-end tests share: where the real data is, running the binary, and a
//! real broker.

#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

pub mod broker;
pub mod lake;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The real event data, `../shared/data` from the repository root, or `WARD_TEST_DATA`.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("WARD_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.is_dir(),
        "the real event data is missing at {}",
        dir.display()
    );
    dir
}

/// A path as a command-line argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// The rule pack the tests detect with.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("detections/rules")
}

/// `ward replay` of `paths` into `lake` with the rule pack, an inventory if given, and
/// `extra` flags; fails the test when it fails.
pub fn replay_into(lake: &Path, inventory: Option<&Path>, paths: &[&Path], extra: &[&str]) {
    let rules = rules_dir();
    let mut args = vec!["replay", "--lake", arg(lake), "--rules", arg(&rules)];
    if let Some(inventory) = inventory {
        args.extend(["--inventory", arg(inventory)]);
    }
    args.extend(paths.iter().map(|path| arg(path)));
    args.extend(extra);
    succeed(&args);
}

/// The lab's psexec run (pgustavo from workstation5 to workstation6) and the FHIR
/// examples replayed into `lake` with [`LAB_INVENTORY`] (written under `dir`) and
/// `extra` flags.
pub fn replay_lab(dir: &Path, lake: &Path, extra: &[&str]) {
    let inventory = dir.join("inventory.toml");
    std::fs::write(&inventory, LAB_INVENTORY).expect("an inventory");
    let run = data_dir().join("edr/otrf/empire_psexec_dcerpc_tcp_svcctl/host");
    let fhir = data_dir().join("ehr/fhir");
    replay_into(lake, Some(&inventory), &[&run, &fhir], extra);
}

/// Runs `ward` with `args` and returns what it did.
pub fn ward(args: &[&str]) -> Output {
    ward_with(&[], args)
}

/// Runs `ward` with `args` and the environment variables `env` (and no lake key but one
/// `env` gives) and returns what it did.
pub fn ward_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ward"));
    command.args(args).env("WARD_LOG", "warn");
    command
        .env_remove("WARD_LAKE_KEY")
        .env_remove("WARD_LAKE_KEY_FILE");
    command.envs(env.iter().copied());
    command.output().expect("the ward binary runs")
}

/// Runs `ward` with `args`, fails the test unless it succeeds, and returns its stdout.
pub fn succeed(args: &[&str]) -> Vec<u8> {
    succeed_with(&[], args)
}

/// [`succeed`] with the environment variables `env`.
pub fn succeed_with(env: &[(&str, &str)], args: &[&str]) -> Vec<u8> {
    let output = ward_with(env, args);
    assert!(
        output.status.success(),
        "ward {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Parses JSON lines.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("every output line is JSON"))
        .collect()
}

/// The text of a field of an event, or "" when absent.
pub fn text<'a>(event: &'a Value, field: &str) -> &'a str {
    event.get(field).and_then(Value::as_str).unwrap_or("")
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("a readable folder") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The lab of the OTRF runs, with the victim workstation playing an ePHI database.
pub const LAB_INVENTORY: &str = r#"
[[asset]]
host = "WORKSTATION5"
ips = ["172.18.39.5"]
tier = "workstation"

[[asset]]
host = "WORKSTATION6"
ips = ["172.18.39.6"]
tier = "ephi_db"

[[asset]]
host = "MORDORDC"
ips = ["172.18.38.5"]
tier = "domain_controller"
"#;
