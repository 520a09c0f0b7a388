//! `ward run` against a real broker (tansu): every record reaches the lake exactly once,
//! through crashes, broker restarts, garbage and a second process in the group.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::broker::Broker;
use common::lake::{WardRun, count, query};
use common::{LAB_INVENTORY, data_dir, json_lines, text, ward};

/// These tests each run a broker and ward processes on a two-core machine; one at a time
/// keeps their timing meaningful.
static SERIAL: Mutex<()> = Mutex::new(());

const TOPICS: &str = "edr,ndr,ehr";

/// The real data as the sensors would publish it: one message per JSON line for the
/// line-oriented logs, one per document for FHIR resources and DICOM audit messages.
/// Zeek TSV and CSV are left out: a row without its header is not a message.
struct RealData {
    edr: Vec<Vec<u8>>,
    ndr: Vec<Vec<u8>>,
    ehr: Vec<Vec<u8>>,
    /// The folders the messages came from, for `ward normalize`.
    sources: Vec<PathBuf>,
}

fn real_data() -> RealData {
    let data = data_dir();
    let lines = |dir: &str, keep: fn(&Path) -> bool| -> Vec<Vec<u8>> {
        files(&data.join(dir))
            .into_iter()
            .filter(|p| keep(p))
            .flat_map(|p| {
                let text = std::fs::read(&p).expect("readable");
                text.split(|b| *b == b'\n')
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
                    .filter(|l| !l.trim_ascii().is_empty())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let documents = |dir: &str| -> Vec<Vec<u8>> {
        files(&data.join(dir))
            .into_iter()
            .map(|p| std::fs::read(&p).expect("readable").trim_ascii().to_vec())
            .collect()
    };
    let host_logs = |p: &Path| p.components().any(|c| c.as_os_str() == "host");
    let any = |_: &Path| true;

    let mut edr = lines("edr/otrf", host_logs);
    edr.extend(lines("edr/evtx-attack-samples", any));
    let mut ndr = lines("ndr/zeek/apt29-day1", any);
    ndr.extend(lines("ndr/zeek/wrccdc2018", any));
    ndr.extend(lines("ndr/suricata", any));
    let mut ehr = documents("ehr/fhir");
    ehr.extend(documents("ehr/dicom-atna"));
    let sources = ["edr/otrf", "edr/evtx-attack-samples", "ndr/zeek/apt29-day1"]
        .iter()
        .chain(&[
            "ndr/zeek/wrccdc2018",
            "ndr/suricata",
            "ehr/fhir",
            "ehr/dicom-atna",
        ])
        .map(|d| data.join(d))
        .collect();
    RealData {
        edr,
        ndr,
        ehr,
        sources,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let files = common::files_under(dir).into_iter();
    files
        .filter(|path| path.extension().is_none_or(|e| e != "cap"))
        .collect()
}

/// The event ids `ward normalize` gives the same sources, ground-truth files aside.
fn normalized_ids(sources: &[PathBuf]) -> BTreeSet<String> {
    let mut args = vec!["normalize".to_owned()];
    args.extend(sources.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = ward(&args);
    assert!(output.status.success());
    json_lines(&output.stdout)
        .iter()
        .map(|e| text(e, "event_id").to_owned())
        .collect()
}

fn lake_ids(lake: &Path) -> BTreeSet<String> {
    query(lake, "SELECT event_id FROM events")
        .iter()
        .map(|row| text(row, "event_id").to_owned())
        .collect()
}

fn assert_each_event_once(lake: &Path, expected: &BTreeSet<String>) {
    let rows = count(lake, "SELECT count(*) FROM events");
    let distinct = count(lake, "SELECT count(DISTINCT event_id) FROM events");
    assert_eq!(rows, distinct, "an event was written twice");
    assert_eq!(
        rows as usize,
        expected.len(),
        "the lake holds a different number of events"
    );
    assert!(
        lake_ids(lake) == *expected,
        "the lake holds different events"
    );
}

/// Unique, realistic network records in volume: Zeek conn entries.
fn conn_records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"_path\":\"conn\",\"ts\":{}.{:06},\"uid\":\"C{i:017}\",\"id.orig_h\":\
                 \"10.20.{}.{}\",\"id.orig_p\":{},\"id.resp_h\":\"10.30.0.{}\",\"id.resp_p\":445,\
                 \"proto\":\"tcp\",\"service\":\"smb\",\"duration\":0.5,\"orig_bytes\":{},\
                 \"resp_bytes\":{},\"conn_state\":\"SF\",\"history\":\"ShADadFf\"}}",
                1_700_000_000 + i / 50,
                i % 1_000_000,
                (i / 250) % 250,
                i % 250,
                1024 + i % 60_000,
                i % 200,
                100 + i % 9000,
                200 + i % 7000,
            )
            .into_bytes()
        })
        .collect()
}

/// A small deterministic generator, so a failing run can be repeated from its seed.
struct Lcg(u64);

impl Lcg {
    fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(42);
        eprintln!("random seed: {seed}");
        Lcg(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

/// A scratch folder, kept after the test when `WARD_KEEP_TEST_DIRS` is set, to look at
/// the lake and logs of a failing run.
fn tempdir() -> tempfile::TempDir {
    let keep = std::env::var_os("WARD_KEEP_TEST_DIRS").is_some();
    let dir = tempfile::Builder::new()
        .prefix("ward-run-")
        .disable_cleanup(keep)
        .tempdir();
    let dir = dir.expect("a temporary folder");
    if keep {
        eprintln!("test folder: {}", dir.path().display());
    }
    dir
}

fn lake_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[test]
fn all_real_data_reaches_the_lake_once_with_the_same_ids_as_normalize() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let broker = Broker::memory(dir.path());
    let data = real_data();
    for (topic, messages) in [("edr", &data.edr), ("ndr", &data.ndr), ("ehr", &data.ehr)] {
        broker.create_topic(topic, 4);
        broker.produce(topic, messages);
    }
    let produced = data.edr.len() + data.ndr.len() + data.ehr.len();

    let lake = lake_path(dir.path(), "lake");
    let ward = WardRun::start(
        dir.path(),
        &broker.address(),
        TOPICS,
        &lake,
        &["--exit-when-idle", "8s"],
    );
    let status = ward.wait(Duration::from_secs(180));
    assert!(status.success(), "ward run failed: {status}");

    // The same events, by id, as `ward normalize` finds in the same files.
    let expected = normalized_ids(&data.sources);
    assert_each_event_once(&lake, &expected);

    // The two dcm4chee query samples without EventDateTime, and nothing else, are dead
    // letters, with their bytes and their place in Kafka.
    let dead = query(
        &lake,
        "SELECT reason, topic, \"offset\", length(encode(raw, 'hex')) / 2 AS size \
         FROM dead_letters",
    );
    assert_eq!(dead.len(), 2, "{dead:#?}");
    for letter in &dead {
        assert_eq!(
            text(letter, "reason"),
            "dicom-atna record has no EventDateTime"
        );
        assert_eq!(text(letter, "topic"), "ehr");
        assert!(letter["size"].as_u64().unwrap_or(0) > 500);
    }
    assert_eq!(expected.len() + dead.len(), produced);

    // Partitions follow the layout: by source kind and event date.
    let by_source = query(
        &lake,
        "SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source",
    );
    let sources: Vec<&str> = by_source.iter().map(|r| text(r, "source")).collect();
    assert_eq!(sources, ["edr", "ehr", "ndr"]);
    let psexec_day = count(
        &lake,
        "SELECT count(*) FROM events WHERE date = '2020-09-20' AND user = 'pgustavo' \
         AND logon_type = 3 AND event_code = '4624'",
    );
    assert!(psexec_day >= 1);
}

#[test]
fn kill_9_at_random_points_leaves_the_same_lake_as_an_uninterrupted_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let broker = Broker::memory(dir.path());
    let data = real_data();
    broker.create_topic("edr", 4);
    broker.create_topic("ndr", 4);
    broker.create_topic("ehr", 2);
    broker.produce("edr", &data.edr);
    broker.produce("ndr", &conn_records(150_000));

    // Crash it several times while it works, at random moments past the group join.
    let crashed = lake_path(dir.path(), "crashed");
    let mut random = Lcg::from_clock();
    for _ in 0..4 {
        let ward = WardRun::start(dir.path(), &broker.address(), TOPICS, &crashed, &[]);
        std::thread::sleep(Duration::from_millis(random.between(2_500, 6_000)));
        ward.kill9();
    }
    // The last run joins a new group: where to resume comes from the lake, not from the
    // group's offsets, and a new group does not wait out the killed members' sessions
    // (tansu can hand the rejoining member no partitions until they expire).
    let ward = WardRun::start(
        dir.path(),
        &broker.address(),
        TOPICS,
        &crashed,
        &["--group", "after-crashes", "--exit-when-idle", "8s"],
    );
    assert!(ward.wait(Duration::from_secs(300)).success());

    // The same topics read once, without interruption, in another group.
    let clean = lake_path(dir.path(), "clean");
    let config = dir.path().join("clean-run");
    std::fs::create_dir_all(&config).expect("a folder");
    let ward = WardRun::start(
        &config,
        &broker.address(),
        TOPICS,
        &clean,
        &["--group", "clean", "--exit-when-idle", "8s"],
    );
    assert!(ward.wait(Duration::from_secs(300)).success());

    let total = (data.edr.len() + 150_000) as u64;
    assert_eq!(count(&clean, "SELECT count(*) FROM events"), total);
    let crashed_ids = lake_ids(&crashed);
    assert_each_event_once(&crashed, &lake_ids(&clean));
    assert_eq!(crashed_ids.len() as u64, total);

    // Row for row the same, every column.
    let rows = |lake: &Path| query(lake, "SELECT * FROM events ORDER BY event_id");
    let (a, b) = (rows(&crashed), rows(&clean));
    assert!(
        a == b,
        "the crashed lake's rows differ from the clean lake's"
    );

    // And the manifest chain of the crashed lake still verifies.
    let entries = ward_storage::read_manifest(&crashed).expect("a readable manifest");
    ward_storage::verify_chain(&entries).expect("an unbroken chain");
}

#[test]
fn a_broker_restart_on_durable_storage_loses_and_repeats_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let mut broker = Broker::sqlite(&dir.path().join("broker.db"), dir.path());
    broker.create_topic("ndr", 4);
    let records = conn_records(40_000);
    broker.produce("ndr", &records);

    let lake = lake_path(dir.path(), "lake");
    let ward = WardRun::start(
        dir.path(),
        &broker.address(),
        "ndr",
        &lake,
        &["--exit-when-idle", "20s"],
    );
    std::thread::sleep(Duration::from_secs(5));
    broker.stop();
    std::thread::sleep(Duration::from_secs(2));
    broker.restart();
    assert!(ward.wait(Duration::from_secs(300)).success());

    let rows = count(&lake, "SELECT count(*) FROM events");
    let distinct = count(&lake, "SELECT count(DISTINCT event_id) FROM events");
    assert_eq!((rows, distinct), (40_000, 40_000));
}

#[test]
fn garbage_and_truncated_json_all_become_dead_letters_and_nothing_else_is_lost() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let broker = Broker::memory(dir.path());
    let data = real_data();
    broker.create_topic("garbage", 2);
    broker.create_topic("ndr", 2);

    let mut random = Lcg(7);
    let mut garbage: Vec<Vec<u8>> = (0..500)
        .map(|_| {
            (0..random.between(1, 300))
                .map(|_| random.next() as u8)
                .collect()
        })
        .collect();
    for line in data.edr.iter().take(500) {
        let cut = random.between(1, line.len() as u64 - 1) as usize;
        garbage.push(line[..cut].to_vec());
    }
    garbage.push(Vec::new());
    broker.produce("garbage", &garbage);
    let good = conn_records(1_000);
    broker.produce("ndr", &good);

    let lake = lake_path(dir.path(), "lake");
    let ward = WardRun::start(
        dir.path(),
        &broker.address(),
        "garbage,ndr",
        &lake,
        &["--exit-when-idle", "8s"],
    );
    assert!(ward.wait(Duration::from_secs(120)).success());

    assert_eq!(
        count(
            &lake,
            "SELECT count(*) FROM dead_letters WHERE topic = 'garbage'"
        ),
        garbage.len() as u64
    );
    assert_eq!(
        count(&lake, "SELECT count(*) FROM dead_letters"),
        garbage.len() as u64
    );
    assert_eq!(
        count(&lake, "SELECT count(DISTINCT event_id) FROM events"),
        good.len() as u64
    );
    assert_eq!(
        count(&lake, "SELECT count(*) FROM events"),
        good.len() as u64
    );
    // The raw bytes are kept exactly, empty message included.
    let sizes: u64 = garbage.iter().map(|g| g.len() as u64).sum();
    assert_eq!(
        count(
            &lake,
            "SELECT sum(length(encode(raw, 'hex')) / 2) FROM dead_letters"
        ),
        sizes
    );
}

#[test]
fn two_processes_split_the_partitions_and_hand_over_without_loss() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let broker = Broker::memory(dir.path());
    broker.create_topic("ndr", 8);
    let records = conn_records(200_000);
    broker.produce("ndr", &records);

    let lake = lake_path(dir.path(), "lake");
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).expect("a folder");
    std::fs::create_dir_all(&b_dir).expect("a folder");
    let a = WardRun::start(&a_dir, &broker.address(), "ndr", &lake, &[]);
    let b = WardRun::start(
        &b_dir,
        &broker.address(),
        "ndr",
        &lake,
        &["--exit-when-idle", "10s"],
    );

    // Let both join and work, then stop the first: its partitions go to the second.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let writers = writers(&lake);
        if writers.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    a.terminate();
    assert!(a.wait(Duration::from_secs(60)).success(), "SIGTERM exits 0");
    assert!(b.wait(Duration::from_secs(300)).success());

    assert!(
        writers(&lake).len() >= 2,
        "both processes wrote to the lake"
    );
    assert_eq!(count(&lake, "SELECT count(*) FROM events"), 200_000);
    assert_eq!(
        count(&lake, "SELECT count(DISTINCT event_id) FROM events"),
        200_000
    );
}

/// The distinct writers of consumed records the manifest names (queries write too, to the
/// access log, but consume nothing).
fn writers(lake: &Path) -> BTreeSet<String> {
    ward_storage::read_manifest(lake)
        .unwrap_or_default()
        .iter()
        .filter(|entry| !entry.offsets.is_empty())
        .map(|entry| entry.writer.clone())
        .collect()
}

#[test]
fn detections_under_run_match_replay_and_the_incident_reaches_its_topic() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let broker = Broker::memory(dir.path());
    let run = data_dir().join("edr/otrf/empire_psexec_dcerpc_tcp_svcctl/host");
    let messages: Vec<Vec<u8>> = files(&run)
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).expect("readable");
            let lines = text.lines().filter(|line| !line.trim().is_empty());
            lines
                .map(|line| line.as_bytes().to_vec())
                .collect::<Vec<_>>()
        })
        .collect();
    // One partition keeps the file's order, so stateful rules see what replay sees.
    broker.create_topic("edr", 1);
    broker.create_topic("ward-incidents", 1);
    broker.produce("edr", &messages);
    let inventory = dir.path().join("inventory.toml");
    std::fs::write(&inventory, LAB_INVENTORY).expect("write the inventory");

    let lake = lake_path(dir.path(), "lake");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("detections/rules");
    let config = format!(
        "rules = {:?}\ninventory = {:?}\nincidents_topic = \"ward-incidents\"\n",
        rules.display().to_string(),
        inventory.display().to_string()
    );
    let service = WardRun::start_with(
        dir.path(),
        &broker.address(),
        "edr",
        &lake,
        &["--exit-when-idle", "8s"],
        &config,
    );
    let status = service.wait(Duration::from_secs(120));
    assert!(status.success(), "ward run failed: {status}");

    // The same signals, by id, as a replay of the same file finds.
    let replayed = lake_path(dir.path(), "replayed");
    let output = ward(&[
        "replay",
        "--lake",
        replayed.to_str().expect("utf-8 path"),
        "--inventory",
        inventory.to_str().expect("utf-8 path"),
        run.to_str().expect("utf-8 path"),
    ]);
    assert!(output.status.success());
    let signal_ids = |lake: &Path| -> BTreeSet<String> {
        let rows = query(lake, "SELECT signal_id FROM signals");
        rows.iter()
            .map(|row| text(row, "signal_id").to_owned())
            .collect()
    };
    let from_run = signal_ids(&lake);
    assert!(!from_run.is_empty());
    assert_eq!(from_run, signal_ids(&replayed));

    // The incident is in the lake and on its topic, as JSON.
    let stored = query(&lake, "SELECT incident_id, path FROM incidents");
    assert_eq!(stored.len(), 1, "{stored:?}");
    let published = broker.consume("ward-incidents", 1, Duration::from_secs(30));
    assert_eq!(published.len(), 1);
    let incident: serde_json::Value =
        serde_json::from_slice(&published[0]).expect("the incident is JSON");
    assert_eq!(incident["incident_id"], stored[0]["incident_id"]);
    assert_eq!(
        incident["path"],
        serde_json::json!(["workstation5", "workstation6"])
    );
    assert_eq!(incident["users"], serde_json::json!(["pgustavo"]));
}

#[test]
fn a_generated_attack_published_to_kafka_becomes_one_incident_under_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir();
    let broker = Broker::memory(dir.path());
    let out = dir.path().join("generated");
    let output = ward(&[
        "generate",
        "--seed",
        "31",
        "--out",
        out.to_str().expect("utf-8 path"),
        "--workstations",
        "10",
        "--clinicians",
        "30",
        "--patients",
        "800",
        "--brokers",
        &broker.address(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ward generate failed: {stderr}");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("truth.json")).expect("truth.json"))
            .expect("JSON");

    let lake = lake_path(dir.path(), "lake");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("detections/rules");
    let config = format!(
        "rules = {:?}\ninventory = {:?}\n",
        rules.display().to_string(),
        out.join("inventory.toml").display().to_string()
    );
    let service = WardRun::start_with(
        dir.path(),
        &broker.address(),
        TOPICS,
        &lake,
        &["--exit-when-idle", "8s"],
        &config,
    );
    assert!(service.wait(Duration::from_secs(180)).success());

    // Every published record is in the lake: all but the access log's CSV rows, which
    // need their header and stay in the file.
    let records: u64 = truth["records"]
        .as_object()
        .expect("counts by kind")
        .iter()
        .filter(|(kind, _)| !kind.starts_with("ehr access-log"))
        .map(|(_, n)| n.as_u64().expect("a count"))
        .sum();
    assert_eq!(count(&lake, "SELECT count(*) FROM events"), records);
    assert_eq!(
        count(&lake, "SELECT count(DISTINCT event_id) FROM events"),
        records
    );
    // Written again as it grew, but one incident, whose latest state has the whole path.
    let incidents = query(&lake, "SELECT DISTINCT incident_id FROM incidents");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let path: Vec<&str> = truth["attack"]["path"]
        .as_array()
        .expect("a path")
        .iter()
        .map(|host| host.as_str().expect("a host"))
        .collect();
    assert!(
        query(&lake, "SELECT path FROM incidents")
            .iter()
            .any(|row| row["path"] == serde_json::json!(path)),
        "the whole path {path:?} in {incidents:?}"
    );
}
