//! `ward run`: the service. Kafka in, normalized events and dead letters into the lake,
//! each record exactly once.
//!
//! The loop, on one thread: poll a message, normalize it, run its events through the
//! detection rules and the correlator, add events, signals or dead letter to the pending
//! batch; when the batch reaches a bound (rows, bytes, age), add the incidents that are
//! new or grew since the last batch, commit it to the lake, then commit the offsets to
//! Kafka for lag monitoring, then publish its dead letters, signals and incidents to
//! their topics if configured. The lake's commit is the one
//! that counts: Kafka offsets trail it, and on every partition assignment consumption
//! resumes where the lake ends (see `ward_ingest::kafka`).
//!
//! SIGINT and SIGTERM end the loop after the current message; the pending batch is
//! committed and the process exits 0. A lake that cannot be written (disk full, I/O
//! error) stops the service with an error: nothing is lost, since the records stay in
//! Kafka and the next start resumes from the lake.
//!
//! Known limitation: the correlator's state lives in memory. After a restart, chains
//! continue from new signals only; signals already in the lake are not read back, so a
//! chain whose steps straddle the restart is reported from its later steps.

mod committer;
pub mod config;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use rdkafka::Message;
use tracing::{debug, info, info_span, warn};
use ward_ingest::kafka::{DeadLetterTopic, JsonTopic, KafkaSource, ResumeOffsets, record_of};
use ward_ingest::{DeadLetter, FormatChoice, Normalizer};
use ward_schemas::{Event, Incident, Signal};

use crate::analysis::{Analysis, AnalysisFlags, AnalysisSettings};
use ward_storage::{Batch, DeadLetterRow, Lake, SourceOffset};

use committer::{Committer, Done, Job};

use config::{RunConfig, RunFlags, RunSettings};

/// Run the ingest service: consume Kafka topics into the Parquet lake.
///
/// Joins a consumer group, normalizes every record, and writes events and dead letters
/// to Hive-partitioned Parquet under the lake folder, recorded in a hash-chained
/// manifest. Each record reaches the lake exactly once, across crashes and restarts.
/// With --rules (or `rules` in the configuration) it also runs the detection rules and
/// the correlator, writing signals and incidents beside the events. Stop it with Ctrl-C
/// or SIGTERM: it writes what it holds and exits 0.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kafka bootstrap brokers, HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    brokers: Option<String>,

    /// Topics to consume, comma separated (for example edr,ndr,ehr).
    #[arg(long)]
    topics: Option<String>,

    /// The lake folder; created if missing.
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,

    /// Consumer group shared by every ward process of one deployment [default: ward].
    #[arg(long)]
    group: Option<String>,

    /// A TOML configuration file; flags override it. See the README for its keys.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Exit 0, after writing everything, once no record has arrived for this long while
    /// holding partitions (for backfills, tests and benchmarks), such as 10s.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    exit_when_idle: Option<Duration>,

    #[command(flatten)]
    analysis: AnalysisFlags,
}

/// Runs `ward run`.
pub fn run(args: RunArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => RunConfig::load(path)?,
        None => RunConfig::default(),
    };
    let flags = RunFlags {
        brokers: args.brokers,
        topics: args.topics,
        lake: args.lake,
        group: args.group,
        exit_when_idle: args.exit_when_idle,
    };
    // Detection runs when a rules folder is named; the service never picks one up from
    // its working directory by surprise.
    let analysis = AnalysisSettings::new(&config, &args.analysis)?;
    let named = args.analysis.rules.is_some() || config.rules.is_some();
    let analysis = named.then_some(analysis);
    let settings = RunSettings::new(config, flags)?;
    Service::start(settings, analysis)?.run()
}

/// What is published once its batch is in the lake.
#[derive(Default)]
pub struct Outgoing {
    /// Dead letters, with where they were consumed.
    pub dead_letters: Vec<(DeadLetter, SourceOffset)>,
    /// Signals of the batch.
    pub signals: Vec<Signal>,
    /// Incidents that are new or grew.
    pub incidents: Vec<Incident>,
}

/// How much of an incident was last written: it is written again when it grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IncidentMark {
    evidence: usize,
    hosts: usize,
    patients_affected: u64,
}

impl IncidentMark {
    fn of(incident: &Incident) -> Self {
        IncidentMark {
            evidence: incident.evidence.len(),
            hosts: incident.path.len(),
            patients_affected: incident.patients_affected,
        }
    }
}

/// Highest offset per partition that is consumed but not yet in the lake. The rebalance
/// callback reads it too: a partition that comes back to this process resumes after what
/// the pending batch already holds, never reading it twice into one batch.
type InFlight = Arc<Mutex<BTreeMap<(String, i32), i64>>>;

/// The running service and its pending batch.
struct Service {
    settings: RunSettings,
    committer: Committer,
    source: KafkaSource,
    dead_letter_topic: Option<DeadLetterTopic>,
    stop: Arc<AtomicBool>,
    pending: Pending,
    /// Topic names, shared by every offset that names them.
    topic_names: BTreeMap<String, Arc<str>>,
    in_flight: InFlight,
    /// Rules and correlator, when detection is on.
    analysis: Option<Analysis>,
    signals_topic: Option<JsonTopic>,
    incidents_topic: Option<JsonTopic>,
    /// Incidents written so far, by id, and how big they were.
    reported: BTreeMap<String, IncidentMark>,
    /// Events analysed since incidents were last built (an EHR access can grow an
    /// incident's patients without any new signal).
    unbuilt: usize,
    /// When incidents were last built.
    last_build: Instant,
}

/// Least time between two builds of incidents: a build walks every signal held, so
/// building on every batch would make a backlog of signals quadratic.
const INCIDENT_INTERVAL: Duration = Duration::from_secs(5);

/// What has been consumed but not yet committed.
#[derive(Default)]
struct Pending {
    events: Vec<(Event, Option<SourceOffset>)>,
    dead_letters: Vec<(DeadLetterRow, Option<SourceOffset>)>,
    /// Signals raised on the events, with their events' offsets.
    signals: Vec<(Signal, Option<SourceOffset>)>,
    /// Dead letters to publish once the batch is in the lake.
    outgoing: Vec<(DeadLetter, SourceOffset)>,
    /// Highest offset consumed per partition.
    consumed: BTreeMap<(Arc<str>, i32), i64>,
    bytes: usize,
    first_at: Option<Instant>,
}

impl Pending {
    fn rows(&self) -> usize {
        self.events.len() + self.dead_letters.len() + self.signals.len()
    }

    fn is_empty(&self) -> bool {
        self.consumed.is_empty()
    }

    /// Whether the batch already holds this offset of this partition.
    fn holds(&self, topic: &Arc<str>, partition: i32, offset: i64) -> bool {
        self.consumed
            .get(&(Arc::clone(topic), partition))
            .is_some_and(|last| offset <= *last)
    }
}

impl Service {
    fn start(settings: RunSettings, analysis: Option<AnalysisSettings>) -> Result<Self> {
        let writer = ward_storage::layout::default_writer_id();
        let lake = Lake::open_with_key(&settings.lake, &writer, settings.key.clone())
            .with_context(|| format!("cannot open the lake at {}", settings.lake.display()))?;

        let root = settings.lake.clone();
        let in_flight = InFlight::default();
        let pending_offsets = Arc::clone(&in_flight);
        let resume: ResumeOffsets = Arc::new(move || {
            let mut offsets =
                ward_storage::committed_offsets(&root).map_err(|err| err.to_string())?;
            let pending = pending_offsets
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (partition, offset) in pending.iter() {
                let last = offsets.entry(partition.clone()).or_insert(*offset);
                *last = (*last).max(*offset);
            }
            Ok(offsets)
        });
        let source = KafkaSource::connect(&settings.kafka, resume)?;
        let dead_letter_topic = match &settings.dead_letter_topic {
            Some(topic) => Some(DeadLetterTopic::connect(&settings.kafka, topic)?),
            None => None,
        };
        let json_topic = |topic: &Option<String>| -> Result<Option<JsonTopic>> {
            let topic = topic.as_deref();
            Ok(topic
                .map(|t| JsonTopic::connect(&settings.kafka, t))
                .transpose()?)
        };
        let signals_topic = json_topic(&settings.signals_topic)?;
        let incidents_topic = json_topic(&settings.incidents_topic)?;
        let analysis = match &analysis {
            Some(settings) => Some(Analysis::new(settings)?),
            None => {
                info!("no rules folder: detection and correlation are off");
                None
            }
        };

        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .context("cannot install the signal handlers")?;
        }
        info!(
            brokers = %settings.kafka.brokers,
            group = %settings.kafka.group,
            topics = %settings.kafka.topics.join(","),
            lake = %settings.lake.display(),
            "ward run started"
        );
        Ok(Service {
            settings,
            committer: Committer::start(lake)?,
            source,
            dead_letter_topic,
            stop,
            pending: Pending::default(),
            topic_names: BTreeMap::new(),
            in_flight,
            analysis,
            signals_topic,
            incidents_topic,
            reported: BTreeMap::new(),
            unbuilt: 0,
            last_build: Instant::now(),
        })
    }

    fn run(mut self) -> Result<()> {
        let span = info_span!("run", group = %self.settings.kafka.group);
        let _entered = span.enter();
        let normalizers: BTreeMap<String, Normalizer> = self
            .settings
            .kafka
            .topics
            .iter()
            .map(|t| {
                let choice = self
                    .settings
                    .formats
                    .get(t)
                    .copied()
                    .unwrap_or(FormatChoice::Auto);
                (t.clone(), Normalizer::new(choice))
            })
            .collect();
        let mut provenance = String::new();
        let (mut events, mut dead) = (Vec::new(), Vec::new());
        let mut last_message = Instant::now();

        while !self.stop.load(Ordering::Relaxed) {
            match self.source.poll(Duration::from_millis(100)) {
                // Idle time counts only while partitions are held: joining the group and
                // waiting out a dead member's session are not the topics running dry.
                None if !self.source.has_partitions() => last_message = Instant::now(),
                None => {}
                Some(Err(err)) => warn!(error = %err, "kafka reported an error; retrying"),
                Some(Ok(message)) => {
                    last_message = Instant::now();
                    let topic = intern(&mut self.topic_names, message.topic());
                    let (partition, offset) = (message.partition(), message.offset());
                    if self.pending.holds(&topic, partition, offset) {
                        // Delivered again (the partition moved and came back): the
                        // batch has it already.
                        continue;
                    }
                    self.in_flight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert((message.topic().to_owned(), partition), offset);
                    let record = record_of(&message, &mut provenance);
                    let normalizer = normalizers
                        .get(message.topic())
                        .copied()
                        .unwrap_or_default();
                    normalizer.normalize(&record, &mut events, &mut dead);
                    let signals = match &mut self.analysis {
                        Some(analysis) => {
                            self.unbuilt += events.len();
                            analysis.process_all(&mut events)
                        }
                        None => Vec::new(),
                    };

                    let consumed = Consumed {
                        at: SourceOffset {
                            topic: Arc::clone(&topic),
                            partition,
                            offset,
                        },
                        bytes: record.bytes.len(),
                        received: record.received,
                    };
                    let publish = self.dead_letter_topic.is_some();
                    self.pending.add(consumed, &mut events, &mut dead, publish);
                    let at = SourceOffset {
                        topic,
                        partition,
                        offset,
                    };
                    let signals = signals.into_iter().map(|signal| (signal, Some(at.clone())));
                    self.pending.signals.extend(signals);
                }
            }

            if self.batch_is_due() {
                self.submit(false)?;
            }
            while let Some(done) = self.committer.finished() {
                self.after_commit(done)?;
            }
            if let Some(idle) = self.settings.exit_when_idle
                && last_message.elapsed() >= idle
            {
                info!(idle = ?idle, "no records for the idle limit; stopping");
                break;
            }
        }

        self.submit(true)?;
        for done in self.committer.close() {
            self.after_commit(done)?;
        }
        if let Some(topic) = &self.dead_letter_topic {
            topic.flush(Duration::from_secs(10))?;
        }
        for topic in [&self.signals_topic, &self.incidents_topic]
            .into_iter()
            .flatten()
        {
            topic.flush(Duration::from_secs(10))?;
        }
        info!("ward run stopped");
        Ok(())
    }

    fn batch_is_due(&self) -> bool {
        let limits = self.settings.batch;
        let pending = &self.pending;
        !pending.is_empty()
            && (pending.rows() >= limits.max_rows
                || pending.bytes >= limits.max_bytes
                || pending
                    .first_at
                    .is_some_and(|t| t.elapsed() >= limits.max_wait))
    }

    /// Hands the pending batch to the committer, with the incidents that grew when it is
    /// time to build them (always for the `last` batch). After the lake has it,
    /// `after_commit` tells Kafka and publishes its dead letters: only the lake's commit
    /// makes a record safe.
    fn submit(&mut self, last: bool) -> Result<()> {
        let incidents = self.grown_incidents(last);
        if self.pending.is_empty() && incidents.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let consumed: Vec<SourceOffset> = pending
            .consumed
            .iter()
            .map(|((topic, partition), offset)| SourceOffset {
                topic: Arc::clone(topic),
                partition: *partition,
                offset: *offset,
            })
            .collect();
        let next = pending
            .consumed
            .iter()
            .map(|((topic, partition), offset)| ((topic.to_string(), *partition), offset + 1))
            .collect();
        let outgoing = Outgoing {
            dead_letters: pending.outgoing,
            signals: pending
                .signals
                .iter()
                .map(|(signal, _)| signal.clone())
                .collect(),
            incidents: incidents.clone(),
        };
        let batch = Batch {
            events: pending.events,
            dead_letters: pending.dead_letters,
            signals: pending.signals,
            incidents,
            accesses: Vec::new(),
            consumed,
        };
        self.committer.submit(Job {
            batch,
            next,
            outgoing,
        })
    }

    /// Incidents that are new, or hold more hosts, evidence or patients than when they
    /// were last written; built only when events were analysed since the last build, and
    /// at most every [`INCIDENT_INTERVAL`] unless this is the `last` batch.
    fn grown_incidents(&mut self, last: bool) -> Vec<Incident> {
        let Some(analysis) = &mut self.analysis else {
            return Vec::new();
        };
        if self.unbuilt == 0 || (!last && self.last_build.elapsed() < INCIDENT_INTERVAL) {
            return Vec::new();
        }
        self.unbuilt = 0;
        self.last_build = Instant::now();
        let mut grown = Vec::new();
        for incident in analysis.incidents() {
            let mark = IncidentMark::of(&incident);
            if self.reported.get(&incident.incident_id) != Some(&mark) {
                info!(
                    incident_id = %incident.incident_id,
                    hosts = incident.path.len(),
                    evidence = incident.evidence.len(),
                    "incident found or grown",
                );
                self.reported.insert(incident.incident_id.clone(), mark);
                grown.push(incident);
            }
        }
        grown
    }

    /// Follows up a committed batch: forgets its offsets as in flight, records them in
    /// Kafka for lag monitoring, and publishes its dead letters. A failed commit stops the
    /// service; what it held is still in Kafka, and the next start resumes from the lake.
    fn after_commit(&mut self, done: Done) -> Result<()> {
        let summary = done.result.context("cannot commit a batch to the lake")?;
        debug!(seq = ?summary.seq, duplicates = summary.duplicates, "batch committed");
        {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            in_flight
                .retain(|partition, offset| done.next.get(partition).is_none_or(|n| *offset >= *n));
        }
        if let Err(err) = self.source.commit(&done.next) {
            warn!(error = %err, "cannot commit offsets to kafka; lag figures will trail");
        }
        self.publish(&done.outgoing);
        if let Some(topic) = &self.dead_letter_topic {
            for (letter, at) in &done.outgoing.dead_letters {
                let source = Some((&*at.topic, at.partition, at.offset));
                if let Err(err) = topic.send(letter, source) {
                    warn!(error = %err, "cannot publish a dead letter; it is in the lake");
                }
            }
        }
        Ok(())
    }
}

impl Service {
    /// Sends a committed batch's signals and incidents to their topics as JSON.
    fn publish(&self, outgoing: &Outgoing) {
        if let Some(topic) = &self.signals_topic {
            for signal in &outgoing.signals {
                send_json(topic, &signal.signal_id, signal);
            }
        }
        if let Some(topic) = &self.incidents_topic {
            for incident in &outgoing.incidents {
                send_json(topic, &incident.incident_id, incident);
            }
        }
    }
}

fn send_json(topic: &JsonTopic, key: &str, document: &impl serde::Serialize) {
    let json = match serde_json::to_vec(document) {
        Ok(json) => json,
        Err(err) => {
            warn!(
                topic = topic.topic(),
                error = %err,
                "cannot encode a document; it is in the lake"
            );
            return;
        }
    };
    if let Err(err) = topic.send(key, &json) {
        warn!(topic = topic.topic(), error = %err, "cannot publish a document; it is in the lake");
    }
}

/// One consumed message: where it was and what it weighed.
struct Consumed {
    at: SourceOffset,
    bytes: usize,
    received: Option<ward_schemas::Timestamp>,
}

impl Pending {
    /// Adds what one message normalized to; `publish` keeps its dead letters for the
    /// dead-letter topic.
    fn add(
        &mut self,
        consumed: Consumed,
        events: &mut Vec<Event>,
        dead: &mut Vec<DeadLetter>,
        publish: bool,
    ) {
        let Consumed {
            at,
            bytes,
            received,
        } = consumed;
        self.first_at.get_or_insert_with(Instant::now);
        self.bytes += bytes;
        self.events
            .extend(events.drain(..).map(|e| (e, Some(at.clone()))));
        for letter in dead.drain(..) {
            let row = DeadLetterRow {
                reason: letter.reason.to_string(),
                format: letter.format.map(|f| f.name().to_owned()),
                topic: Some(at.topic.to_string()),
                partition: Some(at.partition),
                offset: Some(at.offset),
                provenance: letter.provenance.clone(),
                received_time: received,
                raw: letter.raw.clone(),
            };
            self.dead_letters.push((row, Some(at.clone())));
            if publish {
                self.outgoing.push((letter, at.clone()));
            }
        }
        let key = (Arc::clone(&at.topic), at.partition);
        let last = self.consumed.entry(key).or_insert(at.offset);
        *last = (*last).max(at.offset);
    }
}

/// The shared name of a topic, made once per topic rather than once per offset.
fn intern(names: &mut BTreeMap<String, Arc<str>>, topic: &str) -> Arc<str> {
    if let Some(name) = names.get(topic) {
        return Arc::clone(name);
    }
    let name: Arc<str> = topic.into();
    names.insert(topic.to_owned(), Arc::clone(&name));
    name
}
