#!/usr/bin/env bash
# Detection and correlation throughput on a generated hospital:
#
#   scripts/bench/analysis.sh [--workstations N] [--duration D]   (default 200, 2days)
#
# Builds ward, generates the lateral-movement scenario for a hospital of N workstations
# (three clinicians per workstation, 20,000 patients) over D into .ward/bench/hospital,
# then runs the `analysis` criterion benchmark on its logs with its inventory: normalize,
# the full rule pack, and the rule pack plus the correlator, side by side in one run.
# Criterion prints events/s for each (one thread: per core).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
out=$repo/.ward/bench/hospital

die() {
    echo "analysis.sh: $*" >&2
    exit 1
}

workstations=200
duration=2days
while [[ $# -gt 0 ]]; do
    case $1 in
        --workstations)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--workstations takes a positive whole number"
            workstations=$2
            shift 2
            ;;
        --duration)
            [[ -n ${2:-} ]] || die "--duration takes a length such as 2days or 12h"
            duration=$2
            shift 2
            ;;
        *) die "usage: scripts/bench/analysis.sh [--workstations N] [--duration D]" ;;
    esac
done

cd "$repo"
cargo build --release --quiet --bin ward
rm -rf "$out"
"$target_dir/release/ward" generate --seed 1 --out "$out" \
    --workstations "$workstations" --clinicians $((workstations * 3)) --patients 20000 \
    --duration "$duration"
WARD_BENCH_DATA="$out/logs" cargo bench -p ward-detections --bench analysis
