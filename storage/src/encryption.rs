//! Encryption at rest: Parquet modular encryption of every part file with one lake key.
//!
//! An encrypted lake's part files are standard encrypted Parquet (AES-GCM, footer and
//! every column encrypted with the key), readable by any engine given the key and by
//! none without it. The manifest stays plain text, so `ward verify` checks an encrypted
//! lake without the key: it hashes the bytes on disk.
//!
//! Whether a lake is encrypted is decided when its first file is written, and recorded in
//! `_manifest/encryption.json` with the key's fingerprint (a hash that names the key
//! without revealing it). From then on a writer without the key, or with another key, is
//! refused before it writes, and a reader is refused before it reads, with an error that
//! says which: no reader ever gets part of an answer from a wrong key.

use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use parquet::encryption::decrypt::FileDecryptionProperties;
use parquet::encryption::encrypt::FileEncryptionProperties;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StorageError;
use crate::durable::sync_dir;
use crate::layout;

/// File name of the encryption marker, under [`layout::MANIFEST_DIR`].
pub const ENCRYPTION_FILE: &str = "encryption.json";

/// The algorithm every encrypted part file uses, as the marker names it.
const ALGORITHM: &str = "AES_GCM_V1";

/// A lake key: 16, 24 or 32 bytes (AES-128, -192 or -256). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct LakeKey {
    bytes: Vec<u8>,
}

impl fmt::Debug for LakeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LakeKey({})", self.fingerprint())
    }
}

/// A key that cannot be used, and why; the message never quotes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not hexadecimal.
    #[error("the lake key is not hexadecimal: write it as 32, 48 or 64 hex digits")]
    NotHex,
    /// The key has another length.
    #[error(
        "the lake key has {0} bytes; AES needs 16, 24 or 32 (32, 48 or 64 hex digits; 64 \
         for AES-256)"
    )]
    Length(usize),
}

impl LakeKey {
    /// The key written as hex digits (surrounding white space ignored), as a key file or
    /// `WARD_LAKE_KEY` holds it.
    pub fn from_hex(text: &str) -> Result<LakeKey, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::NotHex)?;
        match bytes.len() {
            16 | 24 | 32 => Ok(LakeKey { bytes }),
            other => Err(KeyError::Length(other)),
        }
    }

    /// The key as hex digits, for engines configured by text (DataFusion's options).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    /// 16 hex digits that name the key and reveal nothing of it: the start of SHA-256 of
    /// a ward-specific prefix and the key.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"ward lake key v1\0");
        hasher.update(&self.bytes);
        hex::encode(&hasher.finalize()[..8])
    }

    /// SHA-256 of `value` under this key and a purpose label: a digest only a holder of
    /// the key can compute from a guessed value.
    pub(crate) fn keyed_digest(&self, label: &str, value: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"ward keyed digest v1\0");
        hasher.update(&self.bytes);
        hasher.update(label.as_bytes());
        hasher.update(b"\0");
        hasher.update(value.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Properties that encrypt the footer and every column with this key.
    pub fn encryption(&self) -> Arc<FileEncryptionProperties> {
        FileEncryptionProperties::builder(self.bytes.clone())
            .build()
            .expect("a key of 16, 24 or 32 bytes always makes encryption properties")
    }

    /// Properties that decrypt a part file of the lake.
    pub fn decryption(&self) -> Arc<FileDecryptionProperties> {
        FileDecryptionProperties::builder(self.bytes.clone())
            .build()
            .expect("a key of 16, 24 or 32 bytes always makes decryption properties")
    }
}

/// The marker an encrypted lake carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    algorithm: String,
    key_fingerprint: String,
}

/// The fingerprint of the key the lake at `root` is encrypted with, or `None` when its
/// files are plain.
pub fn lake_fingerprint(root: &Path) -> Result<Option<String>, StorageError> {
    let path = root.join(layout::MANIFEST_DIR).join(ENCRYPTION_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(StorageError::io("read", path, err)),
    };
    let marker: Marker =
        serde_json::from_str(&text).map_err(|err| StorageError::ManifestCorrupt {
            path: path.clone(),
            line: 1,
            detail: format!("not an encryption marker: {err}"),
        })?;
    if marker.algorithm != ALGORITHM {
        return Err(StorageError::ManifestCorrupt {
            path,
            line: 1,
            detail: format!("unsupported algorithm {:?}", marker.algorithm),
        });
    }
    Ok(Some(marker.key_fingerprint))
}

/// Checks that `key` is what reading the lake at `root` needs: the lake's key when it is
/// encrypted (no key, or another, is an error), anything when it is plain. Returns the
/// key to decrypt with, `None` for a plain lake.
pub fn key_for_reading<'a>(
    root: &Path,
    key: Option<&'a LakeKey>,
) -> Result<Option<&'a LakeKey>, StorageError> {
    check_key(lake_fingerprint(root)?, key)
}

/// [`key_for_reading`] for a lake whose marker holds `fingerprint` (`None`: plain).
pub(crate) fn check_key(
    fingerprint: Option<String>,
    key: Option<&LakeKey>,
) -> Result<Option<&LakeKey>, StorageError> {
    match (fingerprint, key) {
        (None, _) => Ok(None),
        (Some(_), None) => Err(StorageError::KeyRequired),
        (Some(expected), Some(key)) if key.fingerprint() == expected => Ok(Some(key)),
        (Some(expected), Some(key)) => Err(StorageError::WrongKey {
            expected,
            given: key.fingerprint(),
        }),
    }
}

/// Whether the Parquet file at `path` has an encrypted footer (it ends in `PARE`, where
/// a plain file ends in `PAR1`). False when it cannot be read.
pub(crate) fn is_encrypted_file(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};

    let mut magic = [0u8; 4];
    let read = fs::File::open(path).and_then(|mut file| {
        file.seek(SeekFrom::End(-4))?;
        file.read_exact(&mut magic)
    });
    read.is_ok() && &magic == b"PARE"
}

/// Makes the lake at `root` encrypted with `key`, which only a lake with no files yet can
/// become. Call with the lock held.
pub(crate) fn mark_encrypted(root: &Path, key: &LakeKey) -> Result<(), StorageError> {
    let dir = root.join(layout::MANIFEST_DIR);
    let path = dir.join(ENCRYPTION_FILE);
    let marker = Marker {
        algorithm: ALGORITHM.to_owned(),
        key_fingerprint: key.fingerprint(),
    };
    let text = serde_json::to_string(&marker).expect("strings always serialize");
    let staged = dir.join(format!("{ENCRYPTION_FILE}.new"));
    fs::write(&staged, format!("{text}\n"))
        .and_then(|()| fs::File::open(&staged)?.sync_all())
        .map_err(|err| StorageError::io("write", &staged, err))?;
    fs::rename(&staged, &path).map_err(|err| StorageError::io("rename into place", &path, err))?;
    sync_dir(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_16_24_or_32_bytes_of_hex_and_never_printed() {
        let key = LakeKey::from_hex(&format!("{}\n", "ab".repeat(32))).expect("AES-256");
        assert_eq!(key.fingerprint().len(), 16);
        assert!(!format!("{key:?}").contains("abab"));
        assert_eq!(
            LakeKey::from_hex(&"0f".repeat(16)).map(|k| k.bytes.len()),
            Ok(16)
        );
        assert_eq!(LakeKey::from_hex("xyz"), Err(KeyError::NotHex));
        assert_eq!(
            LakeKey::from_hex(&"00".repeat(20)),
            Err(KeyError::Length(20))
        );
        let other = LakeKey::from_hex(&"ac".repeat(32)).expect("AES-256");
        assert_ne!(key.fingerprint(), other.fingerprint());
    }

    #[test]
    fn reading_needs_the_lakes_own_key_once_it_is_encrypted() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        fs::create_dir_all(dir.path().join(layout::MANIFEST_DIR)).expect("mkdir");
        let key = LakeKey::from_hex(&"11".repeat(32)).expect("a key");
        let other = LakeKey::from_hex(&"22".repeat(32)).expect("a key");
        assert_eq!(
            key_for_reading(dir.path(), Some(&key)).expect("plain"),
            None
        );

        mark_encrypted(dir.path(), &key).expect("marked");
        assert_eq!(
            lake_fingerprint(dir.path()).expect("read"),
            Some(key.fingerprint())
        );
        assert!(
            key_for_reading(dir.path(), Some(&key))
                .expect("the key")
                .is_some()
        );
        let err = key_for_reading(dir.path(), None).expect_err("no key");
        assert!(matches!(err, StorageError::KeyRequired));
        let err = key_for_reading(dir.path(), Some(&other)).expect_err("another key");
        assert!(err.to_string().contains(&other.fingerprint()), "{err}");
    }

    #[test]
    fn an_encrypted_lakes_files_read_only_with_its_key() {
        use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
        use ward_schemas::SourceKind;

        use crate::{Batch, Lake, read_manifest};

        let dir = tempfile::tempdir().expect("a temporary folder");
        let key = LakeKey::from_hex(&"5a".repeat(32)).expect("a key");
        let mut lake =
            Lake::open_with_key(dir.path(), "enc-test", Some(key.clone())).expect("the lake opens");
        let mut batch = Batch::new();
        let event = crate::testing::event(SourceKind::Ehr, "2024-05-01T09:00:00Z", "r1");
        batch.events.push((event, None));
        lake.commit(batch).expect("the commit");
        drop(lake);

        let entries = read_manifest(dir.path()).expect("manifest");
        let path = layout::resolve(dir.path(), &entries[0].files[0].path);
        let plain = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).expect("file"));
        assert!(plain.is_err(), "read without the key");
        let options = ArrowReaderOptions::new().with_file_decryption_properties(key.decryption());
        let file = fs::File::open(&path).expect("file");
        let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
            .expect("read with the key")
            .build()
            .expect("a reader");
        let rows: usize = reader.map(|batch| batch.expect("a batch").num_rows()).sum();
        assert_eq!(rows, 1);

        let err = Lake::open(dir.path(), "enc-test").expect_err("no key");
        assert!(matches!(err, StorageError::KeyRequired));
        let other = LakeKey::from_hex(&"a5".repeat(32)).expect("a key");
        let err = Lake::open_with_key(dir.path(), "enc-test", Some(other)).expect_err("wrong");
        assert!(matches!(err, StorageError::WrongKey { .. }));

        let plain = tempfile::tempdir().expect("a temporary folder");
        let mut lake = Lake::open(plain.path(), "plain").expect("a plain lake");
        let mut batch = Batch::new();
        let event = crate::testing::event(SourceKind::Ehr, "2024-05-01T09:00:00Z", "r2");
        batch.events.push((event, None));
        lake.commit(batch).expect("the commit");
        let err = Lake::open_with_key(plain.path(), "plain", Some(key.clone()));
        assert!(matches!(err, Err(StorageError::LakeNotEncrypted)));

        // A plain writer opened before the lake was encrypted does not add plain files.
        let fresh = tempfile::tempdir().expect("a temporary folder");
        let mut plain_writer = Lake::open(fresh.path(), "early").expect("a plain writer");
        let encrypting = Lake::open_with_key(fresh.path(), "late", Some(key)).expect("marks");
        let mut batch = Batch::new();
        let event = crate::testing::event(SourceKind::Ehr, "2024-05-01T09:00:00Z", "r3");
        batch.events.push((event, None));
        let err = plain_writer
            .commit(batch)
            .expect_err("the lake is encrypted now");
        assert!(matches!(err, StorageError::KeyRequired), "{err}");
        drop(encrypting);

        // Removing the marker does not turn an encrypted lake plain.
        fs::remove_file(dir.path().join(layout::MANIFEST_DIR).join(ENCRYPTION_FILE))
            .expect("remove the marker");
        let err = Lake::open(dir.path(), "enc-test").expect_err("encrypted files");
        assert!(
            matches!(err, StorageError::EncryptionMarkerMissing),
            "{err}"
        );
    }
}
