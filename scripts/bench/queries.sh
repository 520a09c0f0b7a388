#!/usr/bin/env bash
# Typical analyst queries on a lake of several million events, by ward and by DuckDB on
# the same Parquet files, in one run:
#
#   scripts/bench/queries.sh [--clinicians N] [--duration D]   (default 6000, 7days)
#
# Builds ward, generates a hospital of N clinicians (a workstation per three) over D into
# .ward/bench/queries/data, replays it into .ward/bench/queries/lake with the rule pack,
# then runs queries.py: each query's median time with both engines and the ratio.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
run=$repo/.ward/bench/queries

die() {
    echo "queries.sh: $*" >&2
    exit 1
}

clinicians=6000
duration=7days
while [[ $# -gt 0 ]]; do
    case $1 in
        --clinicians)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--clinicians takes a positive whole number"
            clinicians=$2
            shift 2
            ;;
        --duration)
            [[ -n ${2:-} ]] || die "--duration takes a length such as 7days"
            duration=$2
            shift 2
            ;;
        *) die "usage: scripts/bench/queries.sh [--clinicians N] [--duration D]" ;;
    esac
done
workstations=$(((clinicians + 2) / 3))
((workstations <= 1000)) || workstations=1000

cd "$repo"
python=$("$here/venv.sh")
cargo build --release --locked --quiet --bin ward
ward=$target_dir/release/ward
rm -rf "$run"
mkdir -p "$run"
"$ward" generate --seed 3 --out "$run/data" --clinicians "$clinicians" \
    --workstations "$workstations" --patients 200000 --duration "$duration"
"$ward" replay --lake "$run/lake" --rules detections/rules \
    --inventory "$run/data/inventory.toml" "$run/data/logs"
"$python" "$here/queries.py" --ward "$ward" --lake "$run/lake"
