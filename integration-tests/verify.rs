//! `ward verify` on lakes replayed from the real data: intact, then tampered with in each
//! way the audit record can be, each named by path or manifest entry with exit code 1.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{arg, data_dir, replay_into, ward};

/// A lake replayed from one OTRF run and the Zeek APT29 day, committed in several files.
fn replayed_lake(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    let run = data_dir().join("edr/otrf/empire_psexec_dcerpc_tcp_svcctl/host");
    let zeek = data_dir().join("ndr/zeek/apt29-day1");
    replay_into(&lake, None, &[&run], &[]);
    replay_into(&lake, None, &[&zeek], &["--append"]);
    lake
}

/// A copy of `lake` under `dir/name`, to tamper with.
fn copy(lake: &Path, dir: &Path, name: &str) -> PathBuf {
    let target = dir.join(name);
    for file in common::files_under(lake) {
        let to = target.join(file.strip_prefix(lake).expect("under the lake"));
        fs::create_dir_all(to.parent().expect("a folder")).expect("a folder");
        fs::copy(&file, to).expect("a copy");
    }
    target
}

/// Exit code and stdout of `ward verify` on `lake`.
fn verify(lake: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify", "--lake", arg(lake)];
    args.extend(extra);
    let output = ward(&args);
    let code = output.status.code().expect("an exit code");
    (code, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Paths of the lake's part files of `table`, relative to the lake, sorted.
fn parts(lake: &Path, table: &str) -> Vec<String> {
    let manifest = fs::read_to_string(lake.join("_manifest/manifest.jsonl")).expect("manifest");
    let mut paths: Vec<String> = manifest
        .lines()
        .flat_map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).expect("an entry");
            let files = entry["files"].as_array().expect("files").clone();
            files.into_iter().filter_map(|file| {
                (file["table"] == table).then(|| file["path"].as_str().expect("a path").to_owned())
            })
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn an_intact_lake_verifies_and_every_kind_of_tampering_is_named() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let lake = replayed_lake(dir.path());

    let (code, stdout) = verify(&lake, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("ward verify: intact: 2 manifest entries"),
        "{stdout}"
    );
    let head = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("head: "))
        .expect("the head is printed")
        .to_owned();
    assert_eq!(verify(&lake, &["--expect-head", &head]).0, 0);
    let (code, stdout) = verify(&lake, &["--expect-head", &"0".repeat(64)]);
    assert_eq!(code, 1);
    assert!(stdout.contains("the head differs"), "{stdout}");

    let events = parts(&lake, "events");
    assert!(events.len() >= 2, "{events:?}");

    // A flipped byte in one events file.
    let flipped = copy(&lake, dir.path(), "flipped");
    let target = flipped.join(&events[0]);
    let mut bytes = fs::read(&target).expect("a part file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    fs::write(&target, bytes).expect("write");
    let (code, stdout) = verify(&flipped, &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("TAMPERED"), "{stdout}");
    assert!(
        stdout.contains(&format!("altered: {}", events[0])),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("  altered"))
            .count(),
        1
    );

    // A deleted file and an added one.
    let moved = copy(&lake, dir.path(), "moved");
    fs::remove_file(moved.join(&events[1])).expect("remove");
    let added = events[0].replace("part-", "part-9");
    fs::copy(moved.join(&events[0]), moved.join(&added)).expect("copy");
    let (code, stdout) = verify(&moved, &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!("missing: {}", events[1])),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("unexpected: {added}")), "{stdout}");

    // An edited manifest: one file's row count lowered.
    let edited = copy(&lake, dir.path(), "edited");
    let manifest = edited.join("_manifest/manifest.jsonl");
    let text = fs::read_to_string(&manifest).expect("manifest");
    let changed = text.replacen("\"rows\":", "\"rows\":1", 1);
    assert_ne!(changed, text);
    fs::write(&manifest, changed).expect("write");
    let (code, stdout) = verify(&edited, &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("manifest entry 1: its hash does not match"),
        "{stdout}"
    );

    // A manifest cut inside its last line, and one cut back a whole entry.
    let cut = copy(&lake, dir.path(), "cut");
    let manifest = cut.join("_manifest/manifest.jsonl");
    let text = fs::read(&manifest).expect("manifest");
    fs::write(&manifest, &text[..text.len() - 10]).expect("write");
    let (code, stdout) = verify(&cut, &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("manifest line 2, the last, is incomplete"),
        "{stdout}"
    );
    let first_line = text.iter().position(|&b| b == b'\n').expect("a line") + 1;
    fs::write(&manifest, &text[..first_line]).expect("write");
    let (code, stdout) = verify(&cut, &[]);
    assert_eq!(code, 1);
    let network: Vec<String> = parts(&lake, "events")
        .into_iter()
        .filter(|path| path.contains("source=ndr"))
        .collect();
    assert!(!network.is_empty());
    for path in &network {
        assert!(stdout.contains(&format!("unexpected: {path}")), "{stdout}");
    }
    assert_eq!(verify(&cut, &["--expect-head", &head]).0, 1);

    // A writer opening the cut lake (a query records itself) moves those files aside, not
    // away: they stay as evidence, and verify lists them.
    let output = ward(&["query", "--lake", arg(&cut), "SELECT count(*) FROM events"]);
    assert!(output.status.success());
    let (code, stdout) = verify(&cut, &["--expect-head", &head]);
    assert_eq!(code, 1, "{stdout}");
    for path in &network {
        assert!(cut.join("_quarantine").join(path).is_file(), "{path} kept");
        assert!(stdout.contains(&format!("_quarantine/{path}")), "{stdout}");
    }

    // No lake at all is a usage error, not a verdict.
    assert_eq!(verify(&dir.path().join("none"), &[]).0, 2);
}
