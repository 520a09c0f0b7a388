#!/usr/bin/env bash
# Runs a local tansu broker (Kafka-compatible, one process) for trying and benchmarking
# `ward run` on this machine.
#
#   scripts/broker.sh start  [--port P] [--storage memory|sqlite:FILE] [--state-dir DIR]
#   scripts/broker.sh stop   [--state-dir DIR]
#   scripts/broker.sh status [--state-dir DIR]
#
# start runs tansu in the background, listening on 127.0.0.1 only, waits until the port
# accepts connections and prints the bootstrap address (HOST:PORT) on stdout. Its pid file
# and log are kept in the state dir (default .ward/broker/ in the repository). stop ends it
# and waits until it has exited. status prints the address and exits 0 if it runs, 3 if not.
#
# Storage: memory (default) keeps everything in the broker's memory and loses it on stop;
# sqlite:FILE keeps topics and events in a SQLite file that outlives the broker.
set -euo pipefail

readonly TANSU_VERSION=0.6.0
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    echo "broker.sh: $*" >&2
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: scripts/broker.sh start  [--port P] [--storage memory|sqlite:FILE] [--state-dir DIR]
       scripts/broker.sh stop   [--state-dir DIR]
       scripts/broker.sh status [--state-dir DIR]
EOF
    exit 2
}

# The tansu executable: on PATH, or where `cargo install` puts it when ~/.cargo/bin is not
# on PATH (as in a fresh non-login shell).
find_tansu() {
    if command -v tansu >/dev/null; then
        command -v tansu
    elif [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]]; then
        echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
    else
        cat >&2 <<EOF
broker.sh: tansu is not installed. Install it (about 15 minutes of compiling) with
    scripts/install-broker.sh
or directly with
    cargo install tansu --version $TANSU_VERSION --locked --features dynostore,libsql
EOF
        exit 1
    fi
}

# True while the broker recorded in the state dir is alive.
running() {
    [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

# True once something accepts TCP connections on the port (bash's /dev/tcp, no netcat).
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    if running; then
        echo "broker.sh: already running (pid $(cat "$pid_file"))" >&2
        echo "127.0.0.1:$(cat "$port_file")"
        return
    fi
    local tansu
    tansu=$(find_tansu)
    if port_open "$port"; then
        die "port $port is already in use; pick another with --port"
    fi

    # tansu resolves a sqlite:// path against its working directory (even an absolute one),
    # so it runs in the database file's folder and is given the bare file name.
    local engine workdir=$state_dir
    case $storage in
        memory) engine=memory://tansu/ ;;
        sqlite:?*)
            local file=${storage#sqlite:}
            mkdir -p "$(dirname "$file")"
            workdir=$(cd "$(dirname "$file")" && pwd)
            engine="sqlite://$(basename "$file")"
            ;;
        *) die "unknown storage '$storage': use memory or sqlite:FILE" ;;
    esac

    mkdir -p "$state_dir"
    local url="tcp://127.0.0.1:$port"
    (
        cd "$workdir"
        exec nohup "$tansu" broker --listener-url "$url" --advertised-listener-url "$url" \
            --storage-engine "$engine" </dev/null >>"$log_file" 2>&1
    ) &
    echo $! >"$pid_file"
    echo "$port" >"$port_file"

    # Startup takes milliseconds with memory storage, longer when SQLite creates its schema.
    local tries
    for ((tries = 0; tries < 300; tries++)); do
        if port_open "$port"; then
            echo "127.0.0.1:$port"
            return
        fi
        if ! running; then
            tail -n 20 "$log_file" >&2
            rm -f "$pid_file"
            die "tansu exited during startup; log above, full log in $log_file"
        fi
        sleep 0.1
    done
    stop
    die "tansu did not accept connections on port $port within 30 s; log in $log_file"
}

stop() {
    if ! running; then
        rm -f "$pid_file"
        echo "broker.sh: not running" >&2
        return
    fi
    local pid tries
    pid=$(cat "$pid_file")
    kill -TERM "$pid"
    for ((tries = 0; tries < 100; tries++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "broker.sh: tansu (pid $pid) ignored TERM for 10 s; killing it" >&2
        kill -KILL "$pid"
    fi
    rm -f "$pid_file"
    echo "broker.sh: stopped (pid $pid)" >&2
}

status() {
    if running; then
        echo "127.0.0.1:$(cat "$port_file")"
    else
        echo "broker.sh: not running" >&2
        exit 3
    fi
}

[[ $# -ge 1 ]] || usage
command=$1
shift
port=9092
storage=memory
state_dir=$repo/.ward/broker
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || usage
    case $1 in
        --port) port=$2 ;;
        --storage) storage=$2 ;;
        --state-dir) state_dir=$2 ;;
        *) usage ;;
    esac
    shift 2
done
[[ $port =~ ^[0-9]+$ ]] || die "--port takes a number, not '$port'"
state_dir=$(mkdir -p "$state_dir" && cd "$state_dir" && pwd)
pid_file=$state_dir/tansu.pid
port_file=$state_dir/tansu.port
log_file=$state_dir/tansu.log

case $command in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) usage ;;
esac
