//! Reads every event of the bench topics in one consumer group as fast as rdkafka allows, and
//! does nothing with them: the ceiling that `ward run` is measured against in
//! `scripts/bench/ingest.sh`.
//!
//! It stops when it has seen the expected number of events, or when none has arrived for the
//! idle timeout, and prints one JSON line on stdout:
//! `{"name":"ceiling","events":N,"seconds":S,"events_per_s":X,"peak_rss_mb":M}`.
//! `seconds` runs from the start, group join included, to the last event seen, so the idle
//! wait that ends a short run is not counted. It exits 1 when it stopped short of the
//! expected count, so a broken run cannot pass for a fast one.

use std::fs;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;

const USAGE: &str = "usage: consume-ceiling --brokers HOST:PORT --topics T1,T2,... \
                     --group NAME --events N [--idle-timeout SECONDS]";

/// What to read, validated from the command line.
struct Settings {
    /// Bootstrap address of the broker.
    brokers: String,
    /// Topics to subscribe to.
    topics: Vec<String>,
    /// Consumer group; a fresh one reads the topics from the earliest offset.
    group: String,
    /// How many events the topics hold; reading stops once this many were seen.
    events: u64,
    /// How long without an event ends the run early (default 10 s).
    idle_timeout: Duration,
}

/// What one run measured.
struct Report {
    /// Events read.
    events: u64,
    /// From the start to the last event read.
    elapsed: Duration,
    /// From the start to the first event read: mostly the consumer group join.
    first_event: Option<Duration>,
}

fn main() -> ExitCode {
    let settings = match Settings::from_args(std::env::args().skip(1)) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("consume-ceiling: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let report = match consume(&settings) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("consume-ceiling: cannot consume: {err}");
            return ExitCode::FAILURE;
        }
    };

    if let Some(first) = report.first_event {
        eprintln!(
            "consume-ceiling: first event after {:.2} s",
            first.as_secs_f64()
        );
    }
    let seconds = report.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        report.events as f64 / seconds
    } else {
        0.0
    };
    println!(
        "{{\"name\":\"ceiling\",\"events\":{},\"seconds\":{seconds:.3},\
         \"events_per_s\":{rate:.0},\"peak_rss_mb\":{:.1}}}",
        report.events,
        peak_rss_mb(),
    );

    if report.events < settings.events {
        eprintln!(
            "consume-ceiling: idle for {} s after {} of {} events",
            settings.idle_timeout.as_secs(),
            report.events,
            settings.events
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Joins the group and polls until the expected count or the idle timeout.
fn consume(settings: &Settings) -> Result<Report, KafkaError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &settings.brokers)
        .set("group.id", &settings.group)
        .set("auto.offset.reset", "earliest")
        // Joining a group that has members takes tansu about half the session timeout, and
        // a whole one after a member died; a short timeout keeps that from dominating a run.
        .set("session.timeout.ms", "6000")
        // tansu 0.6 holds every fetch response for about fetch.wait.max.ms even when it has
        // events (half of it from 500 ms up), and caps a response at 5 MiB whatever the
        // client asks. At the default 500 ms that caps reading at about 13k events/s, so the
        // wait is set to the shortest that is not zero.
        .set("fetch.wait.max.ms", "1")
        .set("fetch.max.bytes", "52428800")
        // Prefetch up to 64 MiB, librdkafka's default and ward's, and when that is full try
        // again after 10 ms instead of the default 1 s, which starves any consumer slower
        // than the broker (the Python one ran 30% slower with it).
        .set("queued.max.messages.kbytes", "65536")
        .set("fetch.queue.backoff.ms", "10")
        .create()?;
    let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;

    let start = Instant::now();
    let mut last_event = start;
    let mut first_event = None;
    let mut events = 0;
    while events < settings.events && last_event.elapsed() < settings.idle_timeout {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_message)) => {
                events += 1;
                last_event = Instant::now();
                first_event.get_or_insert(last_event - start);
            }
            // librdkafka retries broker and transport errors itself; the idle timeout ends
            // the run if they persist.
            Some(Err(err)) => eprintln!("consume-ceiling: consumer error: {err}"),
            None => {}
        }
    }

    Ok(Report {
        events,
        elapsed: last_event - start,
        first_event,
    })
}

/// The process's peak resident set size in MiB (Linux `VmHWM`), 0 where unknown.
fn peak_rss_mb() -> f64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

impl Settings {
    fn from_args(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let (mut brokers, mut topics, mut group, mut events) = (None, None, None, None);
        let mut idle_timeout = Duration::from_secs(10);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--brokers" => brokers = Some(value),
                "--topics" => topics = Some(value.split(',').map(str::to_owned).collect()),
                "--group" => group = Some(value),
                "--events" => events = Some(parse_number(&flag, &value)?),
                "--idle-timeout" => {
                    idle_timeout = Duration::from_secs(parse_number(&flag, &value)?);
                }
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        Ok(Settings {
            brokers: brokers.ok_or("--brokers is required")?,
            topics: topics.ok_or("--topics is required")?,
            group: group.ok_or("--group is required")?,
            events: events.ok_or("--events is required")?,
            idle_timeout,
        })
    }
}

fn parse_number(flag: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a whole number, not {value:?}"))
}
