#!/usr/bin/env bash
# ward's whole test suite, as CI runs it: formatting, lints, docs, then the unit,
# property and end-to-end tests (the end-to-end ones read ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "tests"
# --all-targets also runs each benchmark once, so benchmark code cannot rot.
cargo test --workspace --all-targets --locked
