//! Correlation: signals in, lateral-movement incidents out.
//!
//! Detections say "this host logged a network logon from that address". The correlator
//! puts such steps together: it resolves addresses to hosts over time, keeps the steps
//! between hosts as a graph, and finds chains that start at a workstation and, step by
//! step in causal order, reach a host that holds ePHI, or are followed by unusual EHR
//! access by an account or host on the chain. Each chain is one [`Incident`] with its
//! path, the evidence of every step and the patients touched afterwards.
//!
//! Guarantees:
//! - State is bounded: signals, EHR accesses and address bindings each have a limit, and
//!   what is dropped to stay within it is counted in [`CorrelatorStats`].
//! - The result does not depend on the order signals arrive in: chains are built in time
//!   order from what is held, so a replay of files in any order finds the same incidents.
//! - A multi-hop chain is one incident, not one per step.
//!
//! Modules:
//! - [`correlator`]: [`Correlator`], what it holds and how chains become incidents.
//! - [`inventory`]: [`Inventory`], asset tiers from TOML.
//! - [`policy`]: [`Policy`], the Rhai script that accepts steps and scores chains.
//! - [`error`]: what can go wrong loading inputs, as [`CorrelateError`].
//! - `resolve`: address-to-host bindings over time.
//!
//! [`Incident`]: ward_schemas::Incident

pub mod correlator;
pub mod error;
pub mod inventory;
pub mod policy;

mod resolve;

pub use correlator::{Correlator, CorrelatorSettings, CorrelatorStats};
pub use error::CorrelateError;
pub use inventory::{Asset, Inventory, Tier};
pub use policy::Policy;
