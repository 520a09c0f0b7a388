#!/usr/bin/env bash
# Installs tansu, the Kafka-compatible broker that scripts/broker.sh runs, unless tansu
# 0.6.0 is already on PATH (or in ~/.cargo/bin). Compiling it takes about 15 minutes.
#
# 0.6.0 is the version ward's Kafka ingest is tested against; dynostore and libsql are the
# storage engines scripts/broker.sh offers (memory and sqlite).
set -euo pipefail

readonly VERSION=0.6.0
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin

for tansu in "$(command -v tansu || true)" "$cargo_bin/tansu"; do
    if [[ -x $tansu ]] && [[ $("$tansu" --version) == "tansu $VERSION" ]]; then
        echo "install-broker.sh: $tansu is already tansu $VERSION"
        exit 0
    fi
done

command -v cargo >/dev/null || {
    echo "install-broker.sh: cargo is needed to install tansu; install Rust first" >&2
    exit 1
}
echo "install-broker.sh: installing tansu $VERSION into $cargo_bin (about 15 minutes)" >&2
cargo install tansu --version "$VERSION" --locked --features dynostore,libsql
