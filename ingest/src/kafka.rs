//! Kafka: records from a consumer group, resuming each partition where the lake says.
//!
//! ward consumes its topics in one consumer group, so several ward processes split the
//! partitions. Where a partition resumes is decided by the lake, not by Kafka's committed
//! offsets: on every assignment the [`ResumeOffsets`] callback reads the last offset the
//! lake holds for each partition, and consumption starts just after it. Kafka's
//! committed offsets trail the lake and serve lag monitoring only. A record consumed
//! twice (after a crash, a rebalance, a second process) is therefore possible, and the
//! lake drops the second copy when it commits; a record is never skipped.
//!
//! Memory stays bounded whatever the backlog: librdkafka's prefetch queue is capped by
//! [`KafkaSettings::queue_limit`], and the caller bounds its batches.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use thiserror::Error;
use tracing::{error, info, warn};
use ward_schemas::Timestamp;

use crate::DeadLetter;
use crate::record::Record;

/// Where to consume from, validated.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Consumer group; every ward process of one deployment uses the same one.
    pub group: String,
    /// Topics to consume.
    pub topics: Vec<String>,
    /// How long the group waits for a silent member before reassigning its partitions.
    pub session_timeout: Duration,
    /// Upper bound on prefetched, not yet consumed messages, in KiB.
    pub queue_limit: u32,
    /// Further librdkafka properties, passed through as given (security, tuning).
    pub properties: BTreeMap<String, String>,
}

/// A Kafka operation that failed.
#[derive(Debug, Error)]
#[error("kafka {operation} failed: {source}")]
pub struct SourceError {
    /// What ward was doing.
    pub operation: &'static str,
    /// What librdkafka said.
    #[source]
    pub source: KafkaError,
}

impl SourceError {
    fn new(operation: &'static str) -> impl FnOnce(KafkaError) -> Self {
        move |source| SourceError { operation, source }
    }
}

/// Last offset the lake holds per (topic, partition); asked on every assignment.
pub type ResumeOffsets =
    Arc<dyn Fn() -> Result<BTreeMap<(String, i32), i64>, String> + Send + Sync>;

/// Seeks assigned partitions to where the lake ends and logs assignment changes.
struct ResumeContext {
    resume: ResumeOffsets,
}

impl ClientContext for ResumeContext {}

impl ConsumerContext for ResumeContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                match (self.resume)() {
                    Ok(lake) => {
                        let keys: Vec<(String, i32)> = tpl
                            .elements()
                            .iter()
                            .map(|e| (e.topic().to_owned(), e.partition()))
                            .collect();
                        for key in keys {
                            if let Some(last) = lake.get(&key) {
                                let next = Offset::Offset(last + 1);
                                // The partition is in the list we iterate, so this holds.
                                let _ = tpl.set_partition_offset(&key.0, key.1, next);
                            }
                        }
                    }
                    // Resuming from Kafka's offsets still loses nothing: they trail the
                    // lake, and the lake drops what it already holds.
                    Err(reason) => {
                        error!(%reason, "cannot read the lake's offsets; resuming from the group's")
                    }
                }
                info!(partitions = %partition_list(tpl), "partitions assigned");
                if let Err(err) = consumer.assign(tpl) {
                    error!(error = %err, "cannot take the assigned partitions");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                info!(partitions = %partition_list(tpl), "partitions revoked");
                if let Err(err) = consumer.unassign() {
                    warn!(error = %err, "cannot release the revoked partitions");
                }
            }
            other => {
                warn!(error = ?other, "rebalance failed; releasing all partitions");
                let _ = consumer.unassign();
            }
        }
    }
}

fn partition_list(tpl: &TopicPartitionList) -> String {
    let parts: Vec<String> = tpl
        .elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect();
    parts.join(",")
}

/// A consumer-group member reading ward's topics.
pub struct KafkaSource {
    consumer: BaseConsumer<ResumeContext>,
}

impl KafkaSource {
    /// Joins the group and subscribes to the topics. Partitions arrive later, at the
    /// group's first rebalance, during [`poll`](Self::poll).
    pub fn connect(settings: &KafkaSettings, resume: ResumeOffsets) -> Result<Self, SourceError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.brokers)
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                settings.session_timeout.as_millis().to_string(),
            )
            .set(
                "queued.max.messages.kbytes",
                settings.queue_limit.to_string(),
            )
            .set("partition.assignment.strategy", "range,roundrobin");
        for (key, value) in &settings.properties {
            config.set(key, value);
        }
        let consumer: BaseConsumer<ResumeContext> = config
            .create_with_context(ResumeContext { resume })
            .map_err(SourceError::new("connect"))?;
        let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(SourceError::new("subscribe"))?;
        Ok(KafkaSource { consumer })
    }

    /// The next message, waiting at most `timeout`; `None` when none came.
    pub fn poll(&self, timeout: Duration) -> Option<Result<BorrowedMessage<'_>, SourceError>> {
        self.consumer
            .poll(timeout)
            .map(|m| m.map_err(SourceError::new("consume")))
    }

    /// Whether the group has given this member any partition. False while it joins or
    /// while a rebalance moves partitions.
    pub fn has_partitions(&self) -> bool {
        self.consumer
            .assignment()
            .is_ok_and(|assignment| assignment.count() > 0)
    }

    /// Records, for lag monitoring, that everything before each offset is in the lake.
    /// Partitions this member no longer owns are left to their new owner.
    pub fn commit(&self, next_offsets: &BTreeMap<(String, i32), i64>) -> Result<(), SourceError> {
        let assigned = self
            .consumer
            .assignment()
            .map_err(SourceError::new("commit"))?;
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in next_offsets {
            if assigned.find_partition(topic, *partition).is_some() {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(*next))
                    .map_err(SourceError::new("commit"))?;
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&tpl, CommitMode::Async)
            .map_err(SourceError::new("commit"))
    }
}

/// A message as a record to normalize; `provenance` receives `topic/partition/offset`.
pub fn record_of<'m>(message: &'m BorrowedMessage<'_>, provenance: &'m mut String) -> Record<'m> {
    use std::fmt::Write;
    provenance.clear();
    let _ = write!(
        provenance,
        "{}/{}/{}",
        message.topic(),
        message.partition(),
        message.offset()
    );
    Record {
        bytes: message.payload().unwrap_or_default(),
        provenance,
        hint: &crate::record::Hint::None,
        received: message
            .timestamp()
            .to_millis()
            .map(|ms| Timestamp::from_micros(ms.saturating_mul(1000))),
    }
}

/// Sends dead letters to a Kafka topic, with where they came from in headers, so the
/// team that owns a sensor can consume what ward could not read.
pub struct DeadLetterTopic {
    producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext>,
    topic: String,
}

impl DeadLetterTopic {
    /// A producer for `topic` on the given brokers.
    pub fn connect(settings: &KafkaSettings, topic: &str) -> Result<Self, SourceError> {
        Ok(DeadLetterTopic {
            producer: producer(settings)?,
            topic: topic.to_owned(),
        })
    }

    /// Queues one dead letter; the source offset and reason travel as headers.
    pub fn send(
        &self,
        letter: &DeadLetter,
        source: Option<(&str, i32, i64)>,
    ) -> Result<(), SourceError> {
        let reason = letter.reason.to_string();
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: "ward-reason",
                value: Some(reason.as_str()),
            })
            .insert(Header {
                key: "ward-provenance",
                value: Some(letter.provenance.as_str()),
            });
        if let Some((topic, partition, offset)) = source {
            let (partition, offset) = (partition.to_string(), offset.to_string());
            headers = headers
                .insert(Header {
                    key: "ward-source-topic",
                    value: Some(topic),
                })
                .insert(Header {
                    key: "ward-source-partition",
                    value: Some(partition.as_str()),
                })
                .insert(Header {
                    key: "ward-source-offset",
                    value: Some(offset.as_str()),
                });
        }
        let record: BaseRecord<'_, (), [u8]> = BaseRecord::to(&self.topic)
            .payload(&letter.raw[..])
            .headers(headers);
        self.producer.send(record).map_err(|(err, _)| SourceError {
            operation: "send a dead letter",
            source: err,
        })
    }

    /// Waits until every queued dead letter is delivered, at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), SourceError> {
        self.producer
            .flush(timeout)
            .map_err(SourceError::new("flush dead letters"))
    }
}

/// A producer with the deployment's client properties, batching for 50 ms.
fn producer(
    settings: &KafkaSettings,
) -> Result<ThreadedProducer<rdkafka::producer::DefaultProducerContext>, SourceError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.brokers)
        .set("linger.ms", "50");
    for (key, value) in &settings.properties {
        config.set(key, value);
    }
    config
        .create()
        .map_err(SourceError::new("connect the producer"))
}

/// Sends JSON documents (signals, incidents) to a Kafka topic for SIEMs and other
/// consumers, keyed so that updates of one document land in one partition, in order.
pub struct JsonTopic {
    producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext>,
    topic: String,
}

impl JsonTopic {
    /// A producer for `topic` on the given brokers.
    pub fn connect(settings: &KafkaSettings, topic: &str) -> Result<Self, SourceError> {
        Ok(JsonTopic {
            producer: producer(settings)?,
            topic: topic.to_owned(),
        })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues one document under `key`.
    pub fn send(&self, key: &str, json: &[u8]) -> Result<(), SourceError> {
        let record: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.topic).key(key).payload(json);
        self.producer.send(record).map_err(|(err, _)| SourceError {
            operation: "send a document",
            source: err,
        })
    }

    /// Waits until every queued document is delivered, at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), SourceError> {
        self.producer
            .flush(timeout)
            .map_err(SourceError::new("flush documents"))
    }
}
