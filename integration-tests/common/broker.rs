//! A real Kafka-compatible broker for tests: tansu, started as a child process on a free
//! loopback port, with in-memory or SQLite storage.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A running broker; stopped when dropped.
pub struct Broker {
    child: Option<Child>,
    port: u16,
    storage: String,
    /// Where tansu runs; it resolves SQLite paths against it, even absolute ones.
    workdir: PathBuf,
    log: PathBuf,
}

/// The tansu binary: `WARD_TANSU`, else `tansu` on PATH, else cargo's bin folder.
fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("WARD_TANSU") {
        return path.into();
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .find(|p| p.is_file())
    });
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = on_path.unwrap_or_else(|| home.join(".cargo/bin/tansu"));
    assert!(
        path.is_file(),
        "the tansu broker is not installed; run scripts/install-broker.sh"
    );
    path
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("a bound address").port()
}

impl Broker {
    /// A broker that keeps everything in memory and forgets it when stopped.
    pub fn memory(log_dir: &Path) -> Broker {
        Broker::start("memory://tansu/".to_owned(), log_dir, log_dir)
    }

    /// A broker that keeps records and committed offsets in a SQLite file, so they
    /// survive a restart.
    pub fn sqlite(file: &Path, log_dir: &Path) -> Broker {
        let name = file
            .file_name()
            .expect("a database file name")
            .to_string_lossy();
        let workdir = file.parent().expect("a database folder");
        Broker::start(format!("sqlite://{name}"), workdir, log_dir)
    }

    fn start(storage: String, workdir: &Path, log_dir: &Path) -> Broker {
        let mut broker = Broker {
            child: None,
            port: free_port(),
            storage,
            workdir: workdir.to_path_buf(),
            log: log_dir.join("broker.log"),
        };
        broker.restart();
        broker
    }

    /// `host:port` for clients.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker again after [`stop`](Self::stop), on the same port and storage.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the broker is already running");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("a broker log file");
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .current_dir(&self.workdir)
            .stdout(Stdio::from(log.try_clone().expect("a log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("tansu starts");
        self.child = Some(child);

        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the broker did not start; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the broker (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Creates a topic.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(tansu())
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic create runs");
        assert!(status.success(), "cannot create topic {name}");
    }

    /// Produces every message to `topic`, spread over its partitions, and waits until the
    /// broker has acknowledged them all.
    ///
    /// Each message travels in a record batch of its own. tansu 0.6.0 answers a fetch that
    /// starts inside a multi-record batch with the batches after it, skipping the rest of
    /// that batch, so a consumer resuming mid-batch (after a crash or a rebalance) would
    /// never see those records; Apache Kafka returns the whole batch and the client skips
    /// what it did not ask for. One record per batch keeps every offset a batch boundary.
    pub fn produce(&self, topic: &str, messages: &[Vec<u8>]) {
        let producer: ThreadedProducer<_> = ClientConfig::new()
            .set("bootstrap.servers", self.address())
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .set("queue.buffering.max.messages", "1000000")
            .set("partitioner", "murmur2_random")
            .create()
            .expect("a producer");
        for (i, payload) in messages.iter().enumerate() {
            let key = i.to_string();
            let mut record = BaseRecord::to(topic)
                .payload(&payload[..])
                .key(key.as_bytes());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, returned)) => {
                        // The local queue is full: let it drain, then try again.
                        std::thread::sleep(Duration::from_millis(10));
                        record = returned;
                    }
                }
            }
        }
        producer
            .flush(Duration::from_secs(60))
            .expect("every message is acknowledged");
    }
}

impl Broker {
    /// Reads partition 0 of `topic` from the start until `count` messages came, or
    /// `limit` passed; returns the payloads read.
    pub fn consume(&self, topic: &str, count: usize, limit: Duration) -> Vec<Vec<u8>> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.address())
            .set("group.id", "ward-tests-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(topic, 0, Offset::Beginning)
            .expect("a partition to read");
        consumer
            .assign(&partitions)
            .expect("the partition is assigned");

        let deadline = Instant::now() + limit;
        let mut payloads = Vec::new();
        while payloads.len() < count && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                payloads.push(message.payload().unwrap_or_default().to_vec());
            }
        }
        payloads
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
