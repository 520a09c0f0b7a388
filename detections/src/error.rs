//! Errors of the detection stage, and whose fault they are.

use std::path::PathBuf;

/// Who has to act on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The rule or fixture author: fix the file.
    User,
    /// The environment (disk, permissions); retrying may help.
    External,
}

/// What went wrong with one rule file, reported and then skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path}:{line}: {message}",
    path = path.display(),
    line = line.map_or(String::from("-"), |line| line.to_string())
)]
pub struct RuleProblem {
    /// The rule file.
    pub path: PathBuf,
    /// The line the problem is on, when it has one.
    pub line: Option<usize>,
    /// What is wrong, without event content.
    pub message: String,
}

/// Errors of loading rules and running fixtures.
#[derive(Debug, thiserror::Error)]
pub enum DetectionError {
    /// A rules folder or fixture file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A fixture file is not valid.
    #[error("{path}: {message}")]
    Fixture {
        /// The fixture file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl DetectionError {
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            DetectionError::Read { .. } => Fault::External,
            DetectionError::Fixture { .. } => Fault::User,
        }
    }
}
