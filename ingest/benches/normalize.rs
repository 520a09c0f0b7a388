//! Normalize throughput on the OTRF Windows JSON (NXLog flat events, about 3 KB each).
//!
//! Three measurements on the same lines, in one run so their ratios are comparable on a
//! noisy machine:
//! - `serde_json_value`: parsing each line into a `serde_json::Value`, the least any
//!   normalizer built the obvious way does before mapping a single field;
//! - `ward_normalize`: ward's normalizer, record bytes to `Event`s;
//! - `ward_normalize_to_json`: the same plus writing each event as a JSON line, which is
//!   what `ward normalize` does per record.
//!
//! Run with `cargo bench -p ward-ingest --bench normalize`. Throughput is per core: the
//! loop is single-threaded.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ward_ingest::{FormatChoice, Normalizer, Record};

const RUN: &str = "edr/otrf/empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod/host/\
                   empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod_2020-09-21001437.json";

fn lines() -> Vec<Vec<u8>> {
    let data = std::env::var_os("WARD_TEST_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let text = std::fs::read(data.join(RUN)).expect("the OTRF data is at ../shared/data");
    text.split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
    let normalizer = Normalizer::new(FormatChoice::Auto);

    let mut group = c.benchmark_group("otrf_windows_json");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(20);

    group.bench_function("serde_json_value", |b| {
        b.iter(|| {
            for line in &lines {
                let value: serde_json::Value = serde_json::from_slice(line).expect("valid JSON");
                black_box(value);
            }
        })
    });

    group.bench_function("ward_normalize", |b| {
        let (mut events, mut dead) = (Vec::new(), Vec::new());
        b.iter(|| {
            for line in &lines {
                normalizer.normalize(&Record::new(line, "bench:1"), &mut events, &mut dead);
                events.clear();
            }
            assert!(dead.is_empty());
        })
    });

    group.bench_function("ward_normalize_to_json", |b| {
        let (mut events, mut dead) = (Vec::new(), Vec::new());
        let mut out = Vec::with_capacity(64 << 20);
        b.iter(|| {
            out.clear();
            for line in &lines {
                normalizer.normalize(&Record::new(line, "bench:1"), &mut events, &mut dead);
                for event in events.drain(..) {
                    serde_json::to_writer(&mut out, &event).expect("writes to memory");
                    out.write_all(b"\n").expect("writes to memory");
                }
            }
            black_box(out.len());
        })
    });
    group.finish();

    println!(
        "lines: {}, bytes: {bytes} ({:.1} MB)",
        lines.len(),
        bytes as f64 / 1e6
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
