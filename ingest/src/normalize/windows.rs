//! Placeholder being written.
use ward_schemas::Event;
use crate::json::Object;
use crate::record::Record;
use crate::NormalizeError;
pub(crate) fn normalize_flat(_o: &Object<'_>, _r: &Record<'_>, _out: &mut Vec<Event>) -> Result<(), NormalizeError> { Err(NormalizeError::Unrecognized) }
pub(crate) fn normalize_evtx(_o: &Object<'_>, _r: &Record<'_>, _out: &mut Vec<Event>) -> Result<(), NormalizeError> { Err(NormalizeError::Unrecognized) }
