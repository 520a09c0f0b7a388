//! Detection and correlation throughput with the full rule pack, on a generated hospital
//! day or on the real data mix.
//!
//! The events come from `WARD_BENCH_DATA` when it is set: `scripts/bench/analysis.sh`
//! points it at the logs of a day `ward generate` wrote (clinicians' EHR work, sign-ons,
//! server traffic and an attack, the mix a hospital's pipeline sees). Without it, every
//! record of ../shared/data (Windows and Sysmon, Zeek, Suricata, FHIR, DICOM: about 29,000
//! events, far richer in attacks than any real day). Every record is normalized once up
//! front. Measured in one run, so the ratios hold on a noisy machine:
//! - `normalize`: normalizing the same records again, the cost every event already pays;
//! - `detect`: the rule pack (`detections/rules`) on every event, routed by class;
//! - `detect_and_correlate`: the rules, plus the correlator observing every event and
//!   holding every signal, then building incidents once at the end.
//!
//! Run with `cargo bench -p ward-detections --bench analysis`. One thread: events per
//! second is per core.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ward_correlate::{Correlator, CorrelatorSettings, Inventory, Policy};
use ward_detections::{RuleSet, RuleSettings, TierLookup};
use ward_ingest::read::{self, Input};
use ward_ingest::{FormatChoice, Normalizer, Record};
use ward_schemas::Event;

fn data_dir() -> PathBuf {
    let real = || {
        std::env::var_os("WARD_TEST_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
    };
    std::env::var_os("WARD_BENCH_DATA").map_or_else(real, PathBuf::from)
}

/// A record's bytes and its provenance.
type RawRecord = (Vec<u8>, String);

/// Every record's bytes and provenance, and the events they normalize to.
fn load() -> (Vec<RawRecord>, Vec<Arc<Event>>) {
    let normalizer = Normalizer::new(FormatChoice::Auto);
    let dir = data_dir();
    let inputs = read::expand(std::slice::from_ref(&dir))
        .unwrap_or_else(|err| panic!("cannot read the events at {}: {err}", dir.display()));
    let (mut records, mut events) = (Vec::new(), Vec::new());
    let (mut batch, mut dead) = (Vec::new(), Vec::new());
    for input in inputs {
        let Input::File(path) = input else { continue };
        read::read_file(&path, &mut |record| {
            normalizer.normalize(record, &mut batch, &mut dead);
            records.push((record.bytes.to_vec(), record.provenance.to_owned()));
            events.extend(batch.drain(..).map(Arc::new));
            dead.clear();
        })
        .expect("a readable data file");
    }
    (records, events)
}

/// The inventory that goes with the events: the generated hospital's, beside its logs.
fn inventory() -> Arc<Inventory> {
    let beside = std::env::var_os("WARD_BENCH_DATA")
        .map(|dir| PathBuf::from(dir).join("../inventory.toml"))
        .filter(|path| path.is_file());
    let inventory = beside.map(|path| Inventory::load(&path).expect("the generated inventory"));
    Arc::new(inventory.unwrap_or_else(Inventory::empty))
}

fn rules(inventory: &Arc<Inventory>) -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let inventory = Arc::clone(inventory);
    let tiers: TierLookup = Arc::new(move |name| inventory.tier(name).map(|tier| tier.as_str()));
    let rules = RuleSet::load(&dir, RuleSettings::default(), tiers);
    let rules = rules.expect("the rule pack loads");
    assert!(rules.problems().is_empty(), "{:?}", rules.problems());
    rules
}

fn bench(c: &mut Criterion) {
    let (records, events) = load();
    let inventory = inventory();
    let mix = match std::env::var_os("WARD_BENCH_DATA") {
        Some(_) => "generated_hospital",
        None => "real_data_mix",
    };
    let mut group = c.benchmark_group(mix);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);

    group.bench_function("normalize", |b| {
        let normalizer = Normalizer::new(FormatChoice::Auto);
        let (mut out, mut dead) = (Vec::new(), Vec::new());
        b.iter(|| {
            for (bytes, provenance) in &records {
                normalizer.normalize(&Record::new(bytes, provenance), &mut out, &mut dead);
                black_box(&out);
                out.clear();
                dead.clear();
            }
        })
    });

    group.bench_function("detect", |b| {
        let mut rules = rules(&inventory);
        b.iter(|| {
            rules.reset_memory();
            let mut signals = 0;
            for event in &events {
                signals += rules.detect(event).len();
            }
            black_box(signals)
        })
    });

    group.bench_function("detect_and_correlate", |b| {
        let mut rules = rules(&inventory);
        b.iter(|| {
            rules.reset_memory();
            let settings = CorrelatorSettings::default();
            let inventory = Arc::clone(&inventory);
            let mut correlator = Correlator::new(settings, inventory, Policy::builtin());
            for event in &events {
                correlator.observe(event);
                for signal in rules.detect(event) {
                    correlator.add_signal(signal);
                }
            }
            black_box(correlator.incidents())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
