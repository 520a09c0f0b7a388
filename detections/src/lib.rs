//! Detections: normalized events in, signals out.
//!
//! A detection rule is a Rhai script (see `detections/rules/README.md` for how to write
//! one). [`RuleSet`] compiles every rule of a folder once, on one hardened engine, and
//! routes each event only to the rules that asked for its class and event code. What
//! comes out is [`Signal`]s: the rule, the event, and the hosts and account involved.
//!
//! Guarantees:
//! - A rule never stops the pipeline. One that fails to compile is reported with its file
//!   and line and left out; one that errors or hits a limit at run time is counted, and
//!   disabled after [`RuleSettings::max_failures`] failures in a row.
//! - A rule cannot read files, open sockets, start processes, print, or run `eval`, and
//!   each call is bounded in operations, call depth, string, array and map sizes.
//! - Errors and logs never carry event content: a rule error is described by its kind
//!   and line, not by the values involved.
//!
//! Modules:
//! - [`rules`]: [`RuleSet`], loading, routing, running and reloading rules.
//! - [`meta`]: [`RuleMeta`], what a rule says about itself.
//! - [`fixture`]: rule tests from fixture files, events in and expected signals out.
//! - [`error`]: [`DetectionError`] and whose fault it is.
//! - `engine`: the hardened Rhai engine and what scripts can see of an event.
//! - `memory`: the bounded per-rule state scripts use to count over time.
//!
//! [`Signal`]: ward_schemas::Signal

pub mod error;
pub mod fixture;
pub mod meta;
pub mod rules;

mod engine;
mod memory;

pub use error::{DetectionError, Fault, RuleProblem};
pub use fixture::{CaseOutcome, FixtureReport, run_fixtures};
pub use meta::RuleMeta;
pub use rules::{RuleSet, RuleSettings, RuleStats, TierLookup};
