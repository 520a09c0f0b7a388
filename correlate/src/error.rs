//! Errors of the correlation stage, and whose fault they are.

use std::path::PathBuf;

/// Errors of loading the inventory and the correlation policy.
#[derive(Debug, thiserror::Error)]
pub enum CorrelateError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The inventory is not valid; the user must fix it.
    #[error("inventory {path}: {message}")]
    Inventory {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The policy script does not compile or lacks a function; the user must fix it.
    #[error("policy {name}: {message}")]
    Policy {
        /// The script's file name, or `built-in`.
        name: String,
        /// What is wrong, with the line when there is one.
        message: String,
    },
}

impl CorrelateError {
    /// Whether the user has to fix a file (true) or the environment failed (false).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, CorrelateError::Read { .. })
    }
}
