//! Recognizing how a file lays out its records, and splitting it into them.
//!
//! The container is decided from the file's first non-blank line:
//!
//! | first line                          | container      | one record is            |
//! |-------------------------------------|----------------|--------------------------|
//! | `#separator ...`                    | Zeek TSV       | one data line            |
//! | a complete JSON object              | JSON lines     | one line                 |
//! | the start of a JSON object          | JSON stream    | one (pretty-printed) value |
//! | `[`                                 | JSON array     | one element              |
//! | `<85>1 ...` (syslog)                | lines          | one line                 |
//! | `<?xml` or `<AuditMessage`          | XML            | one `AuditMessage`       |
//! | comma-separated column names        | CSV            | one row                  |
//! | anything else                       | lines          | one line                 |
//!
//! Line-oriented containers are streamed, so a file of any size is read in bounded
//! memory. JSON streams, JSON arrays and XML documents are read whole; they are
//! document-sized in practice (a FHIR export, a PACS audit message).
//!
//! Blank lines separate nothing and are not records. Line terminators (`\n` or `\r\n`)
//! are not part of a record.

use std::io::{self, BufRead};
use std::sync::Arc;

use serde_json::value::RawValue;

use super::FileSummary;
use crate::record::{Hint, Record, ZeekTsvHeader};

/// How a file lays out its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// No records at all.
    Empty,
    /// One JSON value per line.
    JsonLines,
    /// JSON values one after another, each possibly spanning lines.
    JsonStream,
    /// One JSON array of records.
    JsonArray,
    /// Zeek's tab-separated logs with `#` headers.
    ZeekTsv,
    /// Comma-separated values under a header row.
    Csv,
    /// XML audit messages.
    Xml,
    /// One record per line, of no container-level format.
    Lines,
}

/// Splits what `reader` yields into records and hands each to `visit`.
pub(super) fn read(
    mut reader: impl BufRead,
    display: &str,
    zeek_log: Option<&'static str>,
    visit: &mut dyn FnMut(&Record<'_>),
) -> io::Result<FileSummary> {
    let mut splitter = Splitter {
        display,
        visit,
        records: 0,
        bytes: 0,
        line: 0,
    };
    let hint = zeek_log
        .map(|name| Hint::ZeekPath(name.into()))
        .unwrap_or_default();

    // Find the first line with content; blank lines before it are not records.
    let mut first = Vec::new();
    loop {
        first.clear();
        if splitter.next_line(&mut reader, &mut first)? == 0 {
            return Ok(splitter.summary(Container::Empty));
        }
        if !trim(&first).is_empty() {
            break;
        }
    }
    let first_line = splitter.line;
    let content = trim(strip_bom(&first));

    let container = match content[0] {
        b'#' if content.starts_with(b"#separator") => Container::ZeekTsv,
        b'{' if serde_json::from_slice::<serde::de::IgnoredAny>(content).is_ok() => {
            Container::JsonLines
        }
        b'{' => Container::JsonStream,
        b'[' => Container::JsonArray,
        b'<' if is_syslog_header(content) => Container::Lines,
        b'<' => Container::Xml,
        _ if is_csv_header(content) => Container::Csv,
        _ => Container::Lines,
    };

    match container {
        Container::JsonLines | Container::Lines => {
            splitter.lines(first, reader, &hint)?;
        }
        Container::ZeekTsv => splitter.zeek_tsv(first, reader)?,
        Container::Csv => splitter.csv(first, reader)?,
        Container::JsonStream | Container::JsonArray | Container::Xml => {
            let mut document = strip_bom(&first).to_vec();
            reader.read_to_end(&mut document)?;
            splitter.bytes += (document.len() - first.len()) as u64;
            match container {
                Container::JsonStream => splitter.json_stream(&document, first_line, &hint),
                Container::JsonArray => splitter.json_array(&document, first_line, &hint),
                _ => splitter.xml(&document, first_line),
            }
        }
        Container::Empty => {}
    }
    Ok(splitter.summary(container))
}

/// Hands records to the visitor and keeps count.
struct Splitter<'v> {
    display: &'v str,
    visit: &'v mut dyn FnMut(&Record<'_>),
    records: u64,
    bytes: u64,
    /// Number of the last line read, counting from 1.
    line: u64,
}

impl Splitter<'_> {
    fn summary(&self, container: Container) -> FileSummary {
        FileSummary {
            container,
            records: self.records,
            bytes: self.bytes,
        }
    }

    /// Reads one line, terminator included, into `line`; 0 at the end of the input.
    fn next_line(&mut self, reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<usize> {
        let read = reader.read_until(b'\n', line)?;
        if read > 0 {
            self.line += 1;
            self.bytes += read as u64;
        }
        Ok(read)
    }

    fn emit(&mut self, bytes: &[u8], line: u64, hint: &Hint) {
        let provenance = format!("{}:{}", self.display, line);
        (self.visit)(&Record {
            bytes,
            provenance: &provenance,
            hint,
            received: None,
        });
        self.records += 1;
    }

    /// One record per non-blank line.
    fn lines(&mut self, first: Vec<u8>, mut reader: impl BufRead, hint: &Hint) -> io::Result<()> {
        let mut line = first;
        strip_bom_in_place(&mut line);
        loop {
            let record = trim_end(&line);
            if !trim(record).is_empty() {
                self.emit(record, self.line, hint);
            }
            line.clear();
            if self.next_line(&mut reader, &mut line)? == 0 {
                return Ok(());
            }
        }
    }

    /// Zeek TSV: `#` lines set the header, every other line is a row under it. A file may
    /// hold several header blocks (logs concatenated across rotations).
    fn zeek_tsv(&mut self, first: Vec<u8>, mut reader: impl BufRead) -> io::Result<()> {
        let mut header = ZeekTsvHeader::default();
        let mut hint = Hint::ZeekTsv(Arc::new(header.clone()));
        let mut line = first;
        strip_bom_in_place(&mut line);
        loop {
            let text = trim_end(&line);
            if text.first() == Some(&b'#') {
                if parse_header_line(&mut header, text) {
                    hint = Hint::ZeekTsv(Arc::new(header.clone()));
                }
            } else if !trim(text).is_empty() {
                self.emit(text, self.line, &hint);
            }
            line.clear();
            if self.next_line(&mut reader, &mut line)? == 0 {
                return Ok(());
            }
        }
    }

    /// CSV: the first line names the columns; every later row is a record. A quoted field
    /// may span lines, so a row ends only where its quotes balance.
    fn csv(&mut self, first: Vec<u8>, mut reader: impl BufRead) -> io::Result<()> {
        let header_line = trim_end(strip_bom(&first));
        let mut columns = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(header_line);
        let names: Vec<String> = match columns.records().next() {
            Some(Ok(row)) => row.iter().map(|c| c.trim().to_owned()).collect(),
            _ => Vec::new(),
        };
        let hint = Hint::Csv(names.into());

        let mut row = Vec::new();
        let mut row_line = 0;
        let mut line = Vec::new();
        while self.next_line(&mut reader, &mut line)? > 0 {
            if row.is_empty() {
                row_line = self.line;
            }
            row.extend_from_slice(&line);
            line.clear();
            if quotes_balanced(&row) {
                let record = trim_end(&row);
                if !trim(record).is_empty() {
                    self.emit(record, row_line, &hint);
                }
                row.clear();
            }
        }
        let record = trim_end(&row);
        if !trim(record).is_empty() {
            self.emit(record, row_line, &hint);
        }
        Ok(())
    }

    /// JSON values one after another. Where the stream breaks, the rest of the file is
    /// one more record, so the bytes reach the dead letters instead of vanishing.
    fn json_stream(&mut self, document: &[u8], first_line: u64, hint: &Hint) {
        let mut lines = LineCounter::new(document, first_line);
        let mut stream = serde_json::Deserializer::from_slice(document).into_iter::<&RawValue>();
        loop {
            match stream.next() {
                Some(Ok(value)) => {
                    let bytes = value.get().as_bytes();
                    let line = lines.line_at(offset_in(document, bytes));
                    self.emit(bytes, line, hint);
                }
                Some(Err(_)) => {
                    let rest = &document[lines.offset.min(document.len())..];
                    let start = document.len() - trim_start(rest).len();
                    let rest = trim(&document[start..]);
                    if !rest.is_empty() {
                        let line = lines.line_at(start);
                        self.emit(rest, line, hint);
                    }
                    return;
                }
                None => return,
            }
            // The next value starts after this one; anything between is white space.
            lines.skip_to(stream.byte_offset());
        }
    }

    /// A JSON array: each element is a record. A broken array is read as lines instead,
    /// so what can be read still is.
    fn json_array(&mut self, document: &[u8], first_line: u64, hint: &Hint) {
        let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(document) else {
            for (line, text) in (first_line..).zip(document.split(|b| *b == b'\n')) {
                if !trim(text).is_empty() {
                    self.emit(trim_end(text), line, hint);
                }
            }
            return;
        };
        let mut lines = LineCounter::new(document, first_line);
        for item in items {
            let bytes = item.get().as_bytes();
            let line = lines.line_at(offset_in(document, bytes));
            self.emit(bytes, line, hint);
        }
    }

    /// XML: each `AuditMessage` element is a record. A document holding one message is
    /// kept whole, declaration included, so the record is the file byte for byte.
    fn xml(&mut self, document: &[u8], first_line: u64) {
        let starts: Vec<usize> = find_all(document, b"<AuditMessage").collect();
        let mut lines = LineCounter::new(document, first_line);
        if starts.len() <= 1 {
            let record = trim(document);
            let line = lines.line_at(document.len() - trim_start(document).len());
            self.emit(record, line, &Hint::None);
            return;
        }
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(document.len());
            let line = lines.line_at(start);
            self.emit(trim(&document[start..end]), line, &Hint::None);
        }
    }
}

/// Counts lines forward through a document, so finding the line of each record costs
/// only the bytes since the previous one.
struct LineCounter<'d> {
    document: &'d [u8],
    offset: usize,
    line: u64,
}

impl<'d> LineCounter<'d> {
    fn new(document: &'d [u8], first_line: u64) -> Self {
        LineCounter {
            document,
            offset: 0,
            line: first_line,
        }
    }

    /// The line number at `offset`, which must not be before the previous one asked.
    fn line_at(&mut self, offset: usize) -> u64 {
        self.skip_to(offset);
        self.line
    }

    fn skip_to(&mut self, offset: usize) {
        let offset = offset.min(self.document.len());
        if offset > self.offset {
            let newlines = self.document[self.offset..offset]
                .iter()
                .filter(|b| **b == b'\n');
            self.line += newlines.count() as u64;
            self.offset = offset;
        }
    }
}

/// Where `part`, a slice borrowed from `whole`, starts within it.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

fn find_all<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

/// Reads one `#` header line of a Zeek TSV log into `header`. Returns whether the line
/// changed the columns (a new `#fields`), which starts a new block of rows.
fn parse_header_line(header: &mut ZeekTsvHeader, line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    if let Some(value) = text.strip_prefix("#separator") {
        header.separator = unescape(value.trim());
        return false;
    }
    let Some((key, value)) = text[1..].split_once(header.separator.as_str()) else {
        return false;
    };
    match key {
        "set_separator" => header.set_separator = unescape(value),
        "empty_field" => header.empty_field = value.to_owned(),
        "unset_field" => header.unset_field = value.to_owned(),
        "path" => header.path = Some(value.to_owned()),
        "fields" => {
            header.fields = value
                .split(header.separator.as_str())
                .map(str::to_owned)
                .collect();
            return true;
        }
        _ => {}
    }
    false
}

/// Decodes Zeek's `\x09` escapes in header values.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("\\x") {
        out.push_str(&rest[..at]);
        let hex = rest
            .get(at + 2..at + 4)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[at + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A syslog header such as `<85>1 `, which starts lines of ATNA messages sent over syslog.
fn is_syslog_header(line: &[u8]) -> bool {
    let digits = line[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    (1..=3).contains(&digits) && line.get(1 + digits) == Some(&b'>')
}

/// A CSV header: at least three comma-separated names made of letters, digits, spaces,
/// underscores, dashes or dots, optionally quoted.
fn is_csv_header(line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    let names: Vec<&str> = text
        .split(',')
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    names.len() >= 3
        && names.iter().all(|name| {
            !name.is_empty()
                && name.chars().next().is_some_and(char::is_alphabetic)
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || " _-.".contains(c))
        })
}

fn quotes_balanced(row: &[u8]) -> bool {
    row.iter().filter(|b| **b == b'"').count() % 2 == 0
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

fn strip_bom_in_place(line: &mut Vec<u8>) {
    if line.starts_with(b"\xef\xbb\xbf") {
        line.drain(..3);
    }
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim(bytes: &[u8]) -> &[u8] {
    let bytes = trim_start(bytes);
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests;
