//! Placeholder being written.
use ward_schemas::Event;
use crate::record::Record;
use crate::NormalizeError;
pub const EHR_ACCESS_COLUMNS: &[&str] = &[];
pub(crate) fn normalize(_h: Option<&[String]>, _r: &Record<'_>, _out: &mut Vec<Event>) -> Result<(), NormalizeError> { Err(NormalizeError::Unrecognized) }
