//! Writing one Parquet part file, its SHA-256 computed on the way out.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use crate::StorageError;
use crate::encryption::LakeKey;

/// zstd's own default level: most of the ratio of higher levels at a fraction of the
/// time, which matters because files are encoded on the commit path.
const ZSTD_LEVEL: i32 = 3;

/// A part file written and synced to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenFile {
    /// Where it was written.
    pub path: PathBuf,
    /// Number of rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// Writes `batch` as a Parquet file at `path` (replacing any file there), in one row
/// group, encrypted with `key` when there is one, and syncs it to disk before returning.
pub(crate) fn write_part_file(
    path: &Path,
    batch: &RecordBatch,
    key: Option<&LakeKey>,
) -> Result<WrittenFile, StorageError> {
    let parquet_error = |source| StorageError::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::create(path).map_err(|err| StorageError::io("create", path, err))?;

    // Hashing as the encoder writes avoids reading the file back.
    let sink = HashingWriter::new(BufWriter::new(file));
    let mut writer =
        ArrowWriter::try_new(sink, batch.schema(), Some(properties(key))).map_err(parquet_error)?;
    writer.write(batch).map_err(parquet_error)?;
    let sink = writer.into_inner().map_err(parquet_error)?;

    let (buffered, sha256, bytes) = sink.finish();
    let file = buffered
        .into_inner()
        .map_err(|err| StorageError::io("write", path, err.into_error()))?;
    file.sync_all()
        .map_err(|err| StorageError::io("sync", path, err))?;
    Ok(WrittenFile {
        path: path.to_owned(),
        rows: batch.num_rows() as u64,
        bytes,
        sha256,
    })
}

/// zstd, one row group however many rows the batch has, ward named as the writer, and
/// the footer and every column encrypted with `key` when there is one.
fn properties(key: Option<&LakeKey>) -> WriterProperties {
    let level = ZstdLevel::try_new(ZSTD_LEVEL).expect("3 is within zstd's levels");
    let builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(None)
        .set_created_by(format!("ward-storage {}", env!("CARGO_PKG_VERSION")));
    match key {
        Some(key) => builder.with_file_encryption_properties(key.encryption()),
        None => builder,
    }
    .build()
}

/// A writer that hashes and counts every byte it passes on.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the hex SHA-256 and the count of the bytes written.
    fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use ward_schemas::{EventBatchBuilder, SourceKind};

    use super::*;
    use crate::testing::event;

    #[test]
    fn the_hash_and_size_are_those_of_the_bytes_on_disk() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("part.parquet");
        let mut builder = EventBatchBuilder::new();
        for raw in ["a", "b", "c"] {
            builder.append(&event(SourceKind::Edr, "2020-09-20T00:00:00Z", raw));
        }
        let batch = builder.finish().expect("the batch matches the schema");

        let written = write_part_file(&path, &batch, None).expect("the file is written");

        let bytes = std::fs::read(&path).expect("the file is readable");
        assert_eq!(written.bytes, bytes.len() as u64);
        assert_eq!(written.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(written.rows, 3);
        let reader =
            SerializedFileReader::new(File::open(&path).expect("open")).expect("a parquet file");
        let metadata = reader.metadata();
        assert_eq!(metadata.num_row_groups(), 1);
        let column = metadata.row_group(0).column(0);
        assert!(matches!(column.compression(), Compression::ZSTD(_)));
        let rows: usize =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("open"))
                .expect("a parquet file")
                .build()
                .expect("a reader")
                .map(|batch| batch.expect("a readable batch").num_rows())
                .sum();
        assert_eq!(rows, 3);
    }
}
