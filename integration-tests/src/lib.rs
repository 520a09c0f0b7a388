//! End-to-end tests of the `ward` binary live in `tests/`; this library is empty.
