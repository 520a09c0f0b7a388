//! `ward publish`: sensor files to a Kafka topic, one record per message.
//!
//! For backfills, trials and demos: it reads files the way `ward normalize` does (the
//! same containers, gzip, folders) and sends each record's bytes unchanged, so `ward run`
//! sees what a sensor's shipper would have sent. Records that need their file's header
//! (Zeek TSV rows, CSV rows) cannot travel alone and are refused with a message.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext};
use ward_ingest::Hint;
use ward_ingest::read::{self, Input};

/// Publish the records of sensor files to a Kafka topic, one record per message.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Kafka bootstrap brokers, HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    brokers: String,

    /// The topic to publish to; created if it does not exist.
    #[arg(long)]
    topic: String,

    /// Partitions of the topic, when ward creates it.
    #[arg(long, default_value_t = 4)]
    partitions: i32,

    /// Files or folders to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Counts the messages the brokers refused, which `send` alone cannot tell.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a publish sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Published {
    /// Records the brokers acknowledged.
    pub sent: u64,
    /// Zeek TSV and CSV rows left out: a row needs its file's header.
    pub refused: u64,
}

/// Runs `ward publish`.
pub fn run(args: PublishArgs) -> Result<()> {
    let published = publish(&args.brokers, &args.topic, args.partitions, &args.paths)?;
    eprintln!(
        "ward publish: {} records sent to {}",
        published.sent, args.topic
    );
    if published.refused > 0 {
        eprintln!(
            "ward publish: {} Zeek TSV or CSV rows not sent: a row needs its file's \
             header, so publish those logs as JSON",
            published.refused
        );
    }
    Ok(())
}

/// Sends every record of `paths` to `topic`, creating it with `partitions` if needed.
pub fn publish(
    brokers: &str,
    topic: &str,
    partitions: i32,
    paths: &[PathBuf],
) -> Result<Published> {
    create_topic(brokers, topic, partitions)?;
    let producer: ThreadedProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("queue.buffering.max.kbytes", "262144")
        .create_with_context(Deliveries::default())
        .context("cannot create a Kafka producer")?;

    let mut published = Published::default();
    for input in read::expand(paths)? {
        let Input::File(path) = input else { continue };
        let mut failure = None;
        read::read_file(&path, &mut |record| {
            if matches!(record.hint, Hint::ZeekTsv(_) | Hint::Csv(_)) {
                published.refused += 1;
                return;
            }
            let mut message = BaseRecord::<(), [u8]>::to(topic).payload(record.bytes);
            loop {
                match producer.send(message) {
                    Ok(()) => break,
                    Err((err, returned)) if is_queue_full(&err) => {
                        // The local queue is full: wait for deliveries, then retry.
                        std::thread::sleep(Duration::from_millis(5));
                        message = returned;
                    }
                    Err((err, _)) => {
                        failure.get_or_insert(err);
                        return;
                    }
                }
            }
            published.sent += 1;
        })?;
        if let Some(err) = failure {
            bail!("cannot publish to {topic}: {err}");
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .context("not every message was delivered")?;
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!(
            "the brokers refused {failed} of {} records sent to {topic}",
            published.sent
        );
    }
    Ok(published)
}

fn is_queue_full(err: &KafkaError) -> bool {
    matches!(
        err,
        KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
    )
}

/// Creates the topic unless it exists already.
fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("cannot create a Kafka admin client")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = runtime
        .block_on(admin.create_topics([&new], &options))
        .with_context(|| format!("cannot create topic {topic}"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(())
}
