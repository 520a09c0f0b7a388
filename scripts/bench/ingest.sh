#!/usr/bin/env bash
# One side-by-side run of the Kafka -> normalize -> Parquet ingest benchmark:
#
#   scripts/bench/ingest.sh [--events N]        (default 1,000,000)
#
# Starts a fresh tansu broker (memory storage) on a free loopback port, fills the topics
# edr, ndr and ehr with N real sample events (produce.py), then lets three contenders read
# all of them, one after the other, each in its own consumer group:
#   (a) ceiling: a bare rdkafka consume loop that does nothing (consume-ceiling/);
#   (b) ward:    `ward run` into a Parquet lake, if target/release/ward has it;
#   (c) python:  the Kafka-to-Parquet script a user would write (consume_python.py).
# and prints events/s, seconds and peak RSS of each, and ward's ratios b/a and b/c.
# Every result, log and lake of the run stays in .ward/bench/ until the next run.
# Binaries are looked for in $CARGO_TARGET_DIR when it is set, else in target/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
run=$repo/.ward/bench
topics=edr,ndr,ehr
# How long a contender waits without events before deciding the topics are drained. The
# ceiling and python stop as soon as they have N, so only ward, which is not told N, waits.
idle_seconds=10

die() {
    echo "ingest.sh: $*" >&2
    exit 1
}

events=1000000
while [[ $# -gt 0 ]]; do
    case $1 in
        --events)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--events takes a positive whole number"
            events=$2
            shift 2
            ;;
        *) die "usage: scripts/bench/ingest.sh [--events N]" ;;
    esac
done

# Runs a contender under GNU time, which records its wall time and peak RSS in NAME.time;
# its stdout goes to NAME.out and its stderr to NAME.log.
measure() {
    local name=$1
    shift
    /usr/bin/time -v -o "$run/$name.time" "$@" >"$run/$name.out" 2>"$run/$name.log"
}

# Prerequisites, each installed or built if missing.
if [[ ! -x /usr/bin/time ]]; then
    echo "ingest.sh: installing GNU time (apt-get install time) for peak RSS" >&2
    apt-get install -y time >/dev/null || die "cannot install GNU time (Debian package 'time')"
fi
python=$("$here/venv.sh")
echo "ingest.sh: building the consume ceiling (cargo waits here if another build runs)" >&2
CARGO_TARGET_DIR=$target_dir \
    cargo build --release --locked --quiet --manifest-path "$here/consume-ceiling/Cargo.toml"
ceiling=$target_dir/release/consume-ceiling

# On a small machine a compile running beside the benchmark takes cores from every contender.
if pgrep -x rustc >/dev/null; then
    echo "ingest.sh: warning: rustc is running; these numbers will be lower than usual" >&2
fi

# The previous run's files go, and its broker too if that run was killed.
"$repo/scripts/broker.sh" stop --state-dir "$run/broker" 2>/dev/null
rm -rf "$run"
mkdir -p "$run"

# A fresh broker, so every run reads the same N events from empty topics.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
brokers=$("$repo/scripts/broker.sh" start --port "$port" --state-dir "$run/broker")
trap '"$repo/scripts/broker.sh" stop --state-dir "$run/broker"' EXIT
echo "ingest.sh: broker at $brokers; producing $events events" >&2
"$python" "$here/produce.py" --brokers "$brokers" --events "$events" \
    >"$run/producer.json" 2>"$run/producer.log" || die "producing failed; see $run/producer.log"

echo "ingest.sh: (a) ceiling" >&2
measure ceiling "$ceiling" --brokers "$brokers" --topics "$topics" --group bench-ceiling \
    --events "$events" --idle-timeout "$idle_seconds" ||
    die "the ceiling failed; see $run/ceiling.log"
# Each contender's result is one JSON line in results.jsonl, which table.py reads.
cat "$run/ceiling.out" >>"$run/results.jsonl"

# ---- (b) ward -------------------------------------------------------------------------
# Runs only when target/release/ward exists and has `run` with --exit-when-idle; build it
# first with `cargo build --release`. Its Kafka settings match the other two contenders'
# (consume-ceiling/src/main.rs says why), given through its configuration file.
ward=$target_dir/release/ward
if [[ -x $ward ]] && "$ward" run --help 2>/dev/null | grep -q -- --exit-when-idle; then
    echo "ingest.sh: (b) ward ($ward, built $(date -r "$ward" '+%F %T'))" >&2
    cat >"$run/ward.toml" <<'EOF'
[kafka]
session_timeout = "6s"
queue_limit_kib = 65536
[kafka.properties]
"fetch.wait.max.ms" = "1"
"fetch.max.bytes" = "52428800"
"fetch.queue.backoff.ms" = "10"
EOF
    if measure ward "$ward" run --brokers "$brokers" --topics "$topics" --lake "$run/lake-ward" \
        --group bench-ward --config "$run/ward.toml" --exit-when-idle "${idle_seconds}s"; then
        # ward is not told N: what it read is what reached its lake, events or dead letters.
        rows=$("$ward" query --lake "$run/lake-ward" --format csv \
            "SELECT count(*) FROM events" | tail -n 1)
        dead_letters=$("$ward" query --lake "$run/lake-ward" --format csv \
            "SELECT count(*) FROM dead_letters" | tail -n 1)
        [[ $rows =~ ^[0-9]+$ && $dead_letters =~ ^[0-9]+$ ]] ||
            die "cannot read ward's counts from 'ward query': '$rows', '$dead_letters'"
        echo "ingest.sh: ward wrote $rows events and $dead_letters dead letters" >&2
        printf '{"name":"ward","events":%d,"dead_letters":%d,"idle_seconds":%d}\n' \
            "$((rows + dead_letters))" "$dead_letters" "$idle_seconds" >>"$run/results.jsonl"
    else
        echo "ingest.sh: (b) ward run failed, left out of the table; see $run/ward.log" >&2
    fi
else
    echo "ingest.sh: (b) ward skipped: $ward is missing or has no 'run --exit-when-idle';" \
        "build it with 'cargo build --release'" >&2
fi
# ---- end of (b) -----------------------------------------------------------------------

echo "ingest.sh: (c) python" >&2
measure python "$python" "$here/consume_python.py" --brokers "$brokers" --topics "$topics" \
    --group bench-python --events "$events" --out "$run/lake-python" \
    --idle-timeout "$idle_seconds" || die "the python consumer failed; see $run/python.log"
cat "$run/python.out" >>"$run/results.jsonl"

echo >&2
"$python" "$here/table.py" "$run"
