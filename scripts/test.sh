#!/usr/bin/env bash
# ward's whole test suite, as CI runs it: formatting, lints, docs, then the unit,
# property and end-to-end tests. The end-to-end tests read ../shared/data and run a real
# Kafka-compatible broker (tansu), which is installed first if missing (~15 minutes once).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "broker"
scripts/install-broker.sh

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "tests"
# --all-targets also runs each benchmark once, so benchmark code cannot rot.
cargo test --workspace --all-targets --locked
