//! Placeholder being written.
use ward_schemas::Event;
use crate::json::Object;
use crate::record::{Record, ZeekTsvHeader};
use crate::NormalizeError;
pub(crate) fn normalize_json(_o: &Object<'_>, _r: &Record<'_>, _out: &mut Vec<Event>) -> Result<(), NormalizeError> { Err(NormalizeError::Unrecognized) }
pub(crate) fn normalize_tsv(_h: &ZeekTsvHeader, _r: &Record<'_>, _out: &mut Vec<Event>) -> Result<(), NormalizeError> { Err(NormalizeError::Unrecognized) }
