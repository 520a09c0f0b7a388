"""Fills the bench topics with realistic security events, fast.

Every event is a real record from the shared sample data, in hospital-like proportions:
60% EDR (Windows events: OTRF flat JSON and evtx JSON), 35% NDR (Zeek JSON of the APT29
and WRCCDC captures, Suricata alerts), 5% EHR (FHIR AuditEvent examples, R4 and R5,
minified to one line). Each source's records are cycled in file order until the requested
count is reached, so a run of any size has the same mix and the same bytes every time.

Events go to the topics edr, ndr and ehr (created with 4 partitions if missing), unkeyed so
librdkafka's sticky partitioner spreads them. The producer batches as a busy collector
would: large batches, a short linger, a deep queue, and one flush at the end.

Prints one JSON line on stdout:
{"name":"producer","events":N,"seconds":S,"events_per_s":X,"mb_per_s":M}
"""

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]

# Out of every 20 events: 12 EDR, 7 NDR, 1 EHR. The slots are interleaved so that any
# prefix of the stream, and so any run size, keeps the mix.
MIX = ["edr", "ndr", "edr", "ndr", "edr", "edr", "ndr", "edr", "ehr", "edr",
       "ndr", "edr", "edr", "ndr", "edr", "ndr", "edr", "ndr", "edr", "edr"]

# Which sample files feed each topic, as globs under the data folder.
SOURCES = {
    "edr": ["edr/otrf/*/host/*.json", "edr/evtx-attack-samples/*.jsonl"],
    "ndr": ["ndr/zeek/apt29-day1/*", "ndr/zeek/wrccdc2018/*.json",
            "ndr/suricata/*.eve.jsonl"],
    "ehr": ["ehr/fhir/r4/*.json", "ehr/fhir/r5/*.json"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True, help="bootstrap address, HOST:PORT")
    parser.add_argument("--events", type=int, default=1_000_000, help="how many to produce")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                        help="the shared sample data folder")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per new topic")
    args = parser.parse_args()

    pools = {topic: load(args.data, globs) for topic, globs in SOURCES.items()}
    for topic, records in pools.items():
        print(f"produce.py: {topic}: {len(records)} distinct records", file=sys.stderr)
    create_topics(args.brokers, list(pools), args.partitions)

    counts, size, seconds = produce(args.brokers, pools, args.events)

    print(f"produce.py: produced {counts} ({size / 1e6:.0f} MB)", file=sys.stderr)
    print(json.dumps({
        "name": "producer",
        "events": args.events,
        "seconds": round(seconds, 3),
        "events_per_s": round(args.events / seconds),
        "mb_per_s": round(size / 1e6 / seconds, 1),
    }))


def load(data, globs):
    """Reads the records of one topic's sample files, one bytes value per record."""
    records = []
    for pattern in globs:
        paths = sorted(data.glob(pattern))
        if not paths:
            sys.exit(f"produce.py: no sample files match {data / pattern}")
        for path in paths:
            if path.parent.parent.name == "fhir":
                # A FHIR example is one pretty-printed resource per file; a producer sends
                # it as one compact line.
                resource = json.loads(path.read_bytes())
                records.append(json.dumps(resource, separators=(",", ":")).encode())
            else:
                with path.open("rb") as lines:
                    records.extend(line.rstrip(b"\r\n") for line in lines if line.strip())
    return records


def create_topics(brokers, topics, partitions):
    """Creates the topics that do not exist yet; existing ones are kept as they are."""
    admin = AdminClient({"bootstrap.servers": brokers})
    existing = admin.list_topics(timeout=10).topics
    new = [NewTopic(topic, num_partitions=partitions, replication_factor=1)
           for topic in topics if topic not in existing]
    for topic, future in admin.create_topics(new).items():
        try:
            future.result()
        except KafkaException as err:
            sys.exit(f"produce.py: cannot create topic {topic}: {err}")


def produce(brokers, pools, total):
    """Sends `total` events and waits until the broker has them all.

    Returns the count per topic, the bytes sent and the seconds from the first send to the
    end of the final flush.
    """
    failures = []

    def on_delivery(err, _message):
        # Called only for failed deliveries (delivery.report.only.error below).
        failures.append(err)

    producer = Producer({
        "bootstrap.servers": brokers,
        # Fill large batches, waiting at most 20 ms for one to fill, and let up to 128 MiB
        # queue up so the Python loop rarely waits on the network. A deeper queue was slower
        # here (1 GiB: 140k events/s, 128 MiB: 250k) and only costs memory.
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "batch.num.messages": 100_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 131_072,
        "delivery.report.only.error": True,
        "on_delivery": on_delivery,
    })
    streams = {topic: itertools.cycle(records) for topic, records in pools.items()}
    counts = dict.fromkeys(pools, 0)
    size = 0
    send = producer.produce

    start = time.perf_counter()
    for topic in itertools.islice(itertools.cycle(MIX), total):
        value = next(streams[topic])
        while True:
            try:
                send(topic, value)
                break
            except BufferError:
                # The local queue is full: serve delivery reports while librdkafka drains.
                producer.poll(0.01)
        counts[topic] += 1
        size += len(value)
    remaining = producer.flush(120)
    seconds = time.perf_counter() - start

    if remaining or failures:
        sys.exit(f"produce.py: {remaining} events still queued after 120 s and "
                 f"{len(failures)} failed, first: {failures[:1]}")
    return counts, size, seconds


if __name__ == "__main__":
    main()
