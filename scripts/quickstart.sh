#!/usr/bin/env bash
# Sets ward up on this machine and runs its main job end to end:
#   1. installs the Kafka-compatible broker (tansu) if missing, and builds ward;
#   2. starts a local broker and publishes the real sample data in ../shared/data to the
#      topics edr, ndr and ehr, as sensors would;
#   3. runs `ward run` until it has caught up, writing the Parquet lake under .ward/lake;
#   4. answers a few questions from the lake with `ward query`.
# Running it again starts from a fresh broker and lake.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

data=${WARD_DATA:-$repo/../shared/data}
state=$repo/.ward/quickstart
lake=$repo/.ward/lake
ward=$repo/target/release/ward
[[ -d $data ]] || { echo "quickstart.sh: no sample data at $data" >&2; exit 1; }

say() { printf '\n== %s\n' "$*" >&2; }

say "installing the broker (once) and building ward"
scripts/install-broker.sh
cargo build --release --locked --bin ward

say "starting a local broker"
scripts/broker.sh stop --state-dir "$state" >/dev/null 2>&1 || true
brokers=$(scripts/broker.sh start --state-dir "$state" --port "${WARD_PORT:-19092}")
trap 'scripts/broker.sh stop --state-dir "$state" >/dev/null 2>&1 || true' EXIT

say "publishing the sample data to the topics edr, ndr and ehr"
"$ward" publish --brokers "$brokers" --topic edr "$data"/edr/otrf/*/host "$data/edr/evtx-attack-samples"
"$ward" publish --brokers "$brokers" --topic ndr \
    "$data/ndr/zeek/apt29-day1" "$data/ndr/zeek/wrccdc2018" "$data/ndr/suricata"
"$ward" publish --brokers "$brokers" --topic ehr "$data/ehr/fhir" "$data/ehr/dicom-atna"

say "ward run: consuming into the lake at $lake (stops once caught up)"
rm -rf "$lake"
# tansu holds every fetch for fetch.wait.max.ms, even with data waiting: keep it short.
cat >"$state/ward.toml" <<'TOML'
[kafka]
session_timeout = "6s"
[kafka.properties]
"fetch.wait.max.ms" = "5"
TOML
# The OTRF lab: the victim workstation plays an ePHI database, so its lateral movement
# becomes an incident.
cat >"$state/inventory.toml" <<'TOML'
[[asset]]
host = "WORKSTATION5"
ips = ["172.18.39.5"]
tier = "workstation"

[[asset]]
host = "WORKSTATION6"
ips = ["172.18.39.6"]
tier = "ephi_db"

[[asset]]
host = "MORDORDC"
ips = ["172.18.38.5"]
tier = "domain_controller"
TOML
"$ward" run --brokers "$brokers" --topics edr,ndr,ehr --lake "$lake" --config "$state/ward.toml" \
    --rules detections/rules --inventory "$state/inventory.toml" --exit-when-idle 10s

say "ward query: what the lake holds"
"$ward" query --lake "$lake" \
    "SELECT source, class, count(*) AS events FROM events GROUP BY 1, 2 ORDER BY 1, 3 DESC"
"$ward" query --lake "$lake" \
    "SELECT time, host, src_ip, user, logon_type FROM events
     WHERE event_code = '4624' AND logon_type = 3 AND user = 'pgustavo' ORDER BY time"
"$ward" query --lake "$lake" "SELECT reason, topic, count(*) AS n FROM dead_letters GROUP BY 1, 2"
"$ward" query --lake "$lake" \
    "SELECT incident_id, min(first_seen) AS first_seen, max(last_seen) AS last_seen,
            max(cardinality(evidence)) AS evidence FROM incidents GROUP BY 1 ORDER BY 2"

cat >&2 <<MSG

The lake is in $lake (Parquet, readable by any engine). Explore it with:
  $ward query --lake $lake "SELECT * FROM events WHERE date = '2020-09-20' LIMIT 10"
MSG
