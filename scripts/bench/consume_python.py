"""What a user would write instead of ward: Kafka to Parquet in plain Python.

Consumes the bench topics in its own consumer group, parses each record as JSON, maps a
handful of the fields ward's `events` table has (time, source_kind, event_code, host,
user, src_ip, src_port, dst_ip, dst_port, provenance, raw) with one straightforward
mapping per source shape, and writes a zstd Parquet file per 100,000 events, committing
the consumer offsets after each file (at-least-once). Records that are not JSON objects
are counted and skipped. It parses with orjson, as someone who cared about speed would:
the standard library's json makes this script about 1.8 times slower.

It stops after the expected number of events, or when none has arrived for the idle
timeout, and prints one JSON line on stdout:
{"name":"python","events":N,"seconds":S,"events_per_s":X,"peak_rss_mb":M}
`seconds` runs from the start, group join included, to the last file written, without
the idle wait. It exits 1 when it stopped short of the expected count.
"""

import argparse
import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import Consumer

BATCH_ROWS = 100_000

SCHEMA = pa.schema([
    ("time", pa.timestamp("us", tz="UTC")),
    ("source_kind", pa.string()),
    ("event_code", pa.string()),
    ("host", pa.string()),
    ("user", pa.string()),
    ("src_ip", pa.string()),
    ("src_port", pa.int32()),
    ("dst_ip", pa.string()),
    ("dst_port", pa.int32()),
    ("provenance", pa.string()),
    ("raw", pa.string()),
])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True, help="bootstrap address, HOST:PORT")
    parser.add_argument("--topics", default="edr,ndr,ehr", help="comma separated")
    parser.add_argument("--group", required=True, help="consumer group")
    parser.add_argument("--events", type=int, required=True, help="how many to expect")
    parser.add_argument("--out", type=Path, required=True, help="folder for Parquet files")
    parser.add_argument("--idle-timeout", type=float, default=10, help="seconds")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        # The same client settings as the Rust ceiling's, which says why each is there.
        "session.timeout.ms": 6000,
        "fetch.wait.max.ms": 1,
        "fetch.max.bytes": 52_428_800,
        "queued.max.messages.kbytes": 65_536,
        "fetch.queue.backoff.ms": 10,
    })
    consumer.subscribe(args.topics.split(","))

    start = time.perf_counter()
    last_event = start
    rows = []
    events = files = skipped = 0
    while events < args.events and time.perf_counter() - last_event < args.idle_timeout:
        # Never take more than the current file still has room for, so that the position
        # committed after writing a file covers exactly the events in the files.
        wanted = min(10_000, BATCH_ROWS - len(rows))
        for message in consumer.consume(num_messages=wanted, timeout=0.5):
            if message.error():
                print(f"consume_python.py: consumer error: {message.error()}", file=sys.stderr)
                continue
            events += 1
            last_event = time.perf_counter()
            row = to_row(message)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
        if len(rows) == BATCH_ROWS:
            write(rows, args.out / f"part-{files:05}.parquet")
            consumer.commit(asynchronous=False)
            files += 1
            rows = []
    idle = time.perf_counter() - last_event if events < args.events else 0.0
    if rows:
        write(rows, args.out / f"part-{files:05}.parquet")
        consumer.commit(asynchronous=False)
        files += 1
    seconds = time.perf_counter() - start - idle
    consumer.close()

    print(f"consume_python.py: {files} files, {skipped} records skipped", file=sys.stderr)
    print(json.dumps({
        "name": "python",
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds) if seconds > 0 else 0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
    if events < args.events:
        sys.exit(f"consume_python.py: idle for {args.idle_timeout:g} s after {events} of "
                 f"{args.events} events")


def to_row(message):
    """Maps one Kafka message to a row of SCHEMA, or None when it is not a JSON object."""
    raw = message.value()
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None

    if "Event" in record:
        fields = windows_evtx(record)
    elif "EventID" in record:
        fields = windows_flat(record)
    elif "event_type" in record:
        fields = suricata(record)
    elif record.get("resourceType") == "AuditEvent":
        fields = fhir(record)
    else:
        fields = zeek(record)
    when, code, host, user, src_ip, src_port, dst_ip, dst_port = fields

    topic = message.topic()
    return (parse_time(when), topic, code, host, user, src_ip, to_int(src_port), dst_ip,
            to_int(dst_port), f"{topic}/{message.partition()}/{message.offset()}",
            raw.decode("utf-8", "replace"))


def windows_flat(r):
    """Windows events as flat JSON (NXLog): Sysmon's UtcTime is the better clock."""
    return (r.get("UtcTime") or r.get("EventTime"), str(r["EventID"]), r.get("Hostname"),
            r.get("TargetUserName") or r.get("SubjectUserName") or r.get("User"),
            r.get("IpAddress") or r.get("SourceIp") or r.get("SourceAddress"),
            r.get("IpPort") or r.get("SourcePort"),
            r.get("DestinationIp") or r.get("DestAddress"),
            r.get("DestinationPort") or r.get("DestPort"))


def windows_evtx(r):
    """Windows events as nested evtx JSON (Event.System, Event.EventData)."""
    system = r["Event"].get("System", {})
    data = r["Event"].get("EventData") or {}
    code = system.get("EventID")
    if isinstance(code, dict):
        code = code.get("#text")
    return (system.get("TimeCreated", {}).get("#attributes", {}).get("SystemTime"),
            str(code), system.get("Computer"),
            data.get("TargetUserName") or data.get("SubjectUserName") or data.get("User"),
            data.get("IpAddress") or data.get("SourceIp"),
            data.get("IpPort") or data.get("SourcePort"),
            data.get("DestinationIp"), data.get("DestinationPort"))


def zeek(r):
    """Zeek logs in JSON, with dotted (id.orig_h) or underscore (id_orig_h) keys."""
    return (r.get("ts"), r.get("_path") or r.get("@stream"), r.get("@system"),
            r.get("username") or r.get("client"),
            r.get("id.orig_h") or r.get("id_orig_h"), r.get("id.orig_p") or r.get("id_orig_p"),
            r.get("id.resp_h") or r.get("id_resp_h"), r.get("id.resp_p") or r.get("id_resp_p"))


def suricata(r):
    """Suricata EVE JSON: the alert's signature id is the event code."""
    alert = r.get("alert") or {}
    code = alert.get("signature_id") or r["event_type"]
    return (r.get("timestamp"), str(code), r.get("host"), None,
            r.get("src_ip"), r.get("src_port"), r.get("dest_ip"), r.get("dest_port"))


def fhir(r):
    """FHIR AuditEvent, R4 (type.code) or R5 (code.coding)."""
    code = (r.get("type") or {}).get("code")
    if code is None:
        code = next(iter((r.get("code") or {}).get("coding") or [{}])).get("code")
    agent = next(iter(r.get("agent") or [{}]))
    who = agent.get("who") or {}
    observer = (r.get("source") or {}).get("observer") or {}
    return (r.get("recorded"), code, observer.get("display"),
            who.get("display") or (who.get("identifier") or {}).get("value"),
            (agent.get("network") or {}).get("address"), None, None, None)


def parse_time(value):
    """Epoch seconds or an ISO 8601 string to an aware UTC datetime; None if neither.
    Strings without a zone are taken as UTC."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_int(value):
    """A port as an int, whether the source wrote it as a number or a string."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        return None


def write(rows, path):
    """Writes rows (tuples in SCHEMA order) as one zstd Parquet file."""
    columns = [pa.array(column, type=field.type) for column, field in zip(zip(*rows), SCHEMA)]
    pq.write_table(pa.Table.from_arrays(columns, schema=SCHEMA), path, compression="zstd")


if __name__ == "__main__":
    main()
