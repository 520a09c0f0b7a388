//! Files and folders to records.
//!
//! `ward normalize` and `ward replay` read what sensors left on disk: single files or
//! whole trees, plain or gzip-compressed, in whatever container the sensor wrote. Each
//! file's container is recognized from its first bytes (see [`Container`]) and split into
//! records, each carrying `path:LINE` as its provenance.
//!
//! Walking a folder skips what cannot hold events (hidden files, Markdown, packet
//! captures) and says so; a file named explicitly is always read, except packet
//! captures, which ward does not decode (run Zeek or Suricata on them).

mod container;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use thiserror::Error;
use tracing::debug;
use walkdir::WalkDir;

use crate::record::Record;

pub use container::Container;

/// A file or folder that could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The path does not exist or cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A folder could not be walked.
    #[error("cannot list {path}: {source}")]
    Walk {
        /// The folder or entry that failed.
        path: PathBuf,
        /// What the walk said.
        source: walkdir::Error,
    },
}

/// Why a file found while walking a folder was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A packet capture: ward reads sensor logs, not packets.
    PacketCapture,
    /// Documentation or a hidden file, not sensor output.
    NotEventData,
}

impl Skip {
    /// Why, in words.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::PacketCapture => "packet capture; ward reads Zeek or Suricata logs, not packets",
            Skip::NotEventData => "not event data",
        }
    }
}

/// A file to read, or one passed over and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Read this file.
    File(PathBuf),
    /// This file was passed over.
    Skipped(PathBuf, Skip),
}

/// Expands paths into the files under them, in a stable (sorted) order. Folders are
/// walked recursively. A path that does not exist is an error; files inside folders that
/// cannot hold events are returned as [`Input::Skipped`].
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, ReadError> {
    let mut inputs = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_file() {
            inputs.push(match skip_reason(path, true)? {
                Some(skip) => Input::Skipped(path.clone(), skip),
                None => Input::File(path.clone()),
            });
            continue;
        }
        let walk = WalkDir::new(path).follow_links(true).sort_by_file_name();
        for entry in walk {
            let entry = entry.map_err(|source| ReadError::Walk {
                path: path.clone(),
                source,
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let file = entry.into_path();
            inputs.push(match skip_reason(&file, false)? {
                Some(skip) => Input::Skipped(file, skip),
                None => Input::File(file),
            });
        }
    }
    Ok(inputs)
}

/// Why a file should not be read, if it should not.
fn skip_reason(path: &Path, named: bool) -> Result<Option<Skip>, ReadError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let extension = extension.to_ascii_lowercase();
    if matches!(extension.as_str(), "pcap" | "cap" | "pcapng") || is_packet_capture(path)? {
        return Ok(Some(Skip::PacketCapture));
    }
    if !named && (name.starts_with('.') || matches!(extension.as_str(), "md" | "markdown")) {
        return Ok(Some(Skip::NotEventData));
    }
    Ok(None)
}

/// Whether a file starts with a pcap or pcapng magic number.
fn is_packet_capture(path: &Path) -> Result<bool, ReadError> {
    let mut magic = [0u8; 4];
    let mut file = File::open(path).map_err(|source| ReadError::Io {
        path: path.into(),
        source,
    })?;
    let read = file.read(&mut magic).map_err(|source| ReadError::Io {
        path: path.into(),
        source,
    })?;
    Ok(read == 4
        && matches!(
            magic,
            [0xd4, 0xc3, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0xc3, 0xd4]
                | [0x4d, 0x3c, 0xb2, 0xa1]
                | [0xa1, 0xb2, 0x3c, 0x4d]
                | [0x0a, 0x0d, 0x0d, 0x0a]
        ))
}

/// What reading one file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSummary {
    /// How the file's records are laid out.
    pub container: Container,
    /// Records handed to the visitor.
    pub records: u64,
    /// Bytes read, after decompression.
    pub bytes: u64,
}

/// Reads one file, plain or gzip-compressed, and hands each record to `visit`.
pub fn read_file(
    path: &Path,
    visit: &mut dyn FnMut(&Record<'_>),
) -> Result<FileSummary, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);

    let mut magic = [0u8; 2];
    let gzip = {
        let peek = std::io::BufRead::fill_buf(&mut file).map_err(io)?;
        magic.iter_mut().zip(peek).for_each(|(m, p)| *m = *p);
        magic == [0x1f, 0x8b]
    };
    let shown = path.display().to_string();
    let hint_name = log_name_hint(path);
    let summary = if gzip {
        let decoder = BufReader::with_capacity(1 << 20, MultiGzDecoder::new(file));
        container::read(decoder, &shown, hint_name, visit)
    } else {
        container::read(file, &shown, hint_name, visit)
    }
    .map_err(io)?;
    debug!(path = %shown, records = summary.records, container = ?summary.container, "file read");
    Ok(summary)
}

/// Zeek log names, longest first so `smb_files` wins over `files`.
const ZEEK_LOGS: &[&str] = &[
    "known_services",
    "packet_filter",
    "known_hosts",
    "known_certs",
    "smb_mapping",
    "smb_files",
    "dce_rpc",
    "analyzer",
    "kerberos",
    "software",
    "modbus",
    "notice",
    "tunnel",
    "dnp3",
    "ntlm",
    "ntp",
    "smtp",
    "snmp",
    "ssh",
    "ssl",
    "sip",
    "dhcp",
    "conn",
    "dns",
    "dpd",
    "ftp",
    "http",
    "irc",
    "mysql",
    "radius",
    "rdp",
    "rfb",
    "socks",
    "syslog",
    "weird",
    "x509",
    "files",
    "pe",
];

/// The Zeek log a file holds, from its name (`conn.log`, `NASHUA_dce_rpc.log`,
/// `conn.00:00:00-01:00:00.log.gz`), for Zeek JSON that does not name its own log.
fn log_name_hint(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let stem = name.split('.').next()?;
    ZEEK_LOGS.iter().copied().find(|log| {
        stem == *log
            || stem
                .strip_suffix(log)
                .is_some_and(|prefix| prefix.ends_with(['_', '-']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeek_log_names_from_file_names() {
        let hint = |name: &str| log_name_hint(Path::new(name));
        assert_eq!(hint("conn.log"), Some("conn"));
        assert_eq!(hint("/x/NASHUA_dce_rpc.log"), Some("dce_rpc"));
        assert_eq!(hint("smb_files.json"), Some("smb_files"));
        assert_eq!(hint("conn.00:00:00-01:00:00.log.gz"), Some("conn"));
        assert_eq!(hint("reconnaissance.json"), None);
        assert_eq!(hint("security.json"), None);
    }
}
