//! What encryption at rest costs: committing and reading the same events in a plain lake
//! and in one encrypted with a lake key (Parquet modular encryption, AES-256-GCM), in one
//! run so the ratios are comparable on a noisy machine.
//!
//! The events are the OTRF WMI run's 6,383 Windows events normalized by ward, each with
//! its raw record (about 3 KB), so the files are the size ingest writes.
//! - `commit_plain` / `commit_encrypted`: one commit of every event into a fresh lake
//!   (encode, zstd, hash, sync, rename, manifest append);
//! - `encode_plain` / `encode_encrypted`: the events encoded to zstd Parquet in memory,
//!   as a commit does before its syncs (which make the commit timings noisy);
//! - `read_plain` / `read_encrypted`: every column of the committed file read back.
//!
//! Run with `cargo bench -p ward-storage --bench encryption`.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::fs::File;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use ward_ingest::{FormatChoice, Normalizer, Record};
use ward_schemas::Event;
use ward_storage::{Batch, Lake, LakeKey, read_manifest};

const RUN: &str = "edr/otrf/empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod/host/\
                   empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod_2020-09-21001437.json";

fn events() -> Vec<Event> {
    let data = std::env::var_os("WARD_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let text = std::fs::read(data.join(RUN)).expect("the OTRF data is at ../shared/data");
    let normalizer = Normalizer::new(FormatChoice::Auto);
    let (mut events, mut dead) = (Vec::new(), Vec::new());
    for line in text
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
    {
        normalizer.normalize(&Record::new(line, "bench:1"), &mut events, &mut dead);
    }
    assert!(dead.is_empty());
    events
}

fn batch(events: &[Event]) -> Batch {
    let mut batch = Batch::new();
    batch.events = events.iter().map(|event| (event.clone(), None)).collect();
    batch
}

/// A lake in `dir` holding `events`, encrypted with `key` if given; its part files.
fn committed(dir: &Path, events: &[Event], key: Option<&LakeKey>) -> Vec<PathBuf> {
    let mut lake = Lake::open_with_key(dir, "bench", key.cloned()).expect("the lake opens");
    lake.commit(batch(events)).expect("the commit");
    let entries = read_manifest(dir).expect("the manifest");
    let files = entries.iter().flat_map(|entry| &entry.files);
    files.map(|file| dir.join(&file.path)).collect()
}

fn read_all(files: &[PathBuf], key: Option<&LakeKey>) -> usize {
    let mut rows = 0;
    for path in files {
        let mut options = ArrowReaderOptions::new();
        if let Some(key) = key {
            options = options.with_file_decryption_properties(key.decryption());
        }
        let file = File::open(path).expect("a part file");
        let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
            .expect("a readable file")
            .build()
            .expect("a reader");
        rows += reader
            .map(|batch| batch.expect("a batch").num_rows())
            .sum::<usize>();
    }
    rows
}

/// The batch as zstd Parquet in memory, encrypted with `key` if given: the properties a
/// lake's part files are written with.
fn encode(batch: &RecordBatch, key: Option<&LakeKey>) -> usize {
    let level = ZstdLevel::try_new(3).expect("a zstd level");
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(None);
    if let Some(key) = key {
        properties = properties.with_file_encryption_properties(key.encryption());
    }
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), Some(properties.build())).expect("a writer");
    writer.write(batch).expect("the batch encodes");
    writer.close().expect("the file closes");
    out.len()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let key = LakeKey::from_hex(&"5e".repeat(32)).expect("a 256-bit key");
    let mut group = c.benchmark_group("lake_encryption");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);

    for (name, key) in [("plain", None), ("encrypted", Some(&key))] {
        group.bench_function(format!("commit_{name}"), |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("a temporary folder"),
                |dir| black_box(committed(dir.path(), &events, key)),
                BatchSize::PerIteration,
            )
        });
    }

    let record_batch = {
        let mut builder = ward_schemas::EventBatchBuilder::new();
        events.iter().for_each(|event| builder.append(event));
        builder.finish().expect("events always make a batch")
    };
    for (name, key) in [("plain", None), ("encrypted", Some(&key))] {
        group.bench_function(format!("encode_{name}"), |b| {
            b.iter(|| black_box(encode(&record_batch, key)))
        });
    }

    let plain = tempfile::tempdir().expect("a temporary folder");
    let encrypted = tempfile::tempdir().expect("a temporary folder");
    let plain_files = committed(plain.path(), &events, None);
    let encrypted_files = committed(encrypted.path(), &events, Some(&key));
    for (name, files, key) in [
        ("plain", &plain_files, None),
        ("encrypted", &encrypted_files, Some(&key)),
    ] {
        group.bench_function(format!("read_{name}"), |b| {
            b.iter(|| assert_eq!(read_all(files, key), events.len()))
        });
    }
    group.finish();

    let size = |files: &[PathBuf]| -> u64 {
        files
            .iter()
            .map(|f| f.metadata().map_or(0, |m| m.len()))
            .sum()
    };
    println!(
        "events: {}, plain files {} bytes, encrypted files {} bytes",
        events.len(),
        size(&plain_files),
        size(&encrypted_files)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
