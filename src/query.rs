//! `ward query`: SQL over the lake with DataFusion.
//!
//! Tables: `events` (Hive-partitioned by `source` and `date`), `dead_letters`, `signals`,
//! `incidents` and `access_log` (partitioned by `date`). Every query is recorded in
//! `access_log` before its result is shown. The partition columns can be used in `WHERE`
//! clauses, and a filter on them reads only the matching folders: `WHERE date =
//! '2020-09-20'` over years of data reads one day.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::{ConfigFileDecryptionProperties, TableParquetOptions};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use ward_storage::LakeKey;

/// Answer SQL over the lake: tables `events`, `dead_letters`, `signals`, `incidents` and
/// `access_log`.
///
/// Every query is recorded in `access_log` (who, when, the SQL, rows returned) before its
/// result is printed.
///
/// Example: ward query --lake lake "SELECT source, class, count(*) FROM events GROUP BY
/// 1, 2 ORDER BY 3 DESC"
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The lake folder [default: `lake` from the configuration].
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,

    /// Configuration file (the one `ward run` reads), for its `lake`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,

    /// The SQL statement.
    sql: String,
}

/// How `ward query` prints results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row, per line.
    Json,
}

/// Runs `ward query`.
pub fn run(args: QueryArgs) -> Result<()> {
    let (lake, _, key) =
        crate::run::config::RunConfig::lake_and_key(args.lake, args.config.as_deref())?;
    let access = crate::access::Use::start("query", args.sql.clone());
    let batches = match block_on(execute(&lake, key.as_ref(), &args.sql))? {
        Ok(batches) => batches,
        Err(err) => {
            access.record(&lake, key.as_ref(), None)?;
            return Err(err);
        }
    };
    let rows = batches.iter().map(|batch| batch.num_rows() as u64).sum();
    access.record(&lake, key.as_ref(), Some(rows))?;
    print(&batches, args.format).or_else(|err| {
        if err.kind() == io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(err)
        }
    })?;
    Ok(())
}

/// Runs `future` (a query, a report) to completion on a runtime of its own, for the
/// commands that read the lake once and exit.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the query runtime")?;
    Ok(runtime.block_on(future))
}

/// What SQL over the lake may do: query, and nothing else. No `COPY ... TO` (it would
/// write records, decrypted, wherever the process can write), no `CREATE`, no `SET`.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// A session with every table of the lake registered, reading its files with `key` when
/// the lake is encrypted. Fails before reading anything when the lake needs a key and
/// `key` is not it.
pub async fn session(lake: &Path, key: Option<&LakeKey>) -> Result<SessionContext> {
    let key = ward_storage::key_for_reading(lake, key)
        .with_context(|| format!("cannot read the lake {}", lake.display()))?;
    let mut options = TableParquetOptions::default();
    // Filters are evaluated while decoding: the filter's columns first, the rest only for
    // rows that pass, which is what makes one patient's or one account's rows cheap to
    // find in days of events.
    options.global.pushdown_filters = true;
    options.global.reorder_filters = true;
    if let Some(key) = key {
        options.crypto.file_decryption = Some(ConfigFileDecryptionProperties {
            footer_key_as_hex: key.to_hex(),
            ..ConfigFileDecryptionProperties::default()
        });
    }
    let ctx = SessionContext::new();
    for table in ward_storage::Table::ALL {
        register(&ctx, lake, table, &options).await?;
    }
    Ok(ctx)
}

async fn execute(lake: &Path, key: Option<&LakeKey>, sql: &str) -> Result<Vec<RecordBatch>> {
    let ctx = session(lake, key).await?;
    let frame = ctx
        .sql_with_options(sql, read_only())
        .await
        .context("invalid query")?;
    frame.collect().await.context("the query failed")
}

async fn register(
    ctx: &SessionContext,
    lake: &Path,
    table: ward_storage::Table,
    options: &TableParquetOptions,
) -> Result<()> {
    let dir = ward_storage::table_dir(lake, table.name());
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the table folder {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot open {}", dir.display()))?;
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))
        .with_context(|| format!("cannot read the table folder {}", dir.display()))?;
    let partition_cols = table
        .partition_columns()
        .iter()
        .map(|p| (p.to_string(), DataType::Utf8))
        .collect();
    let format = ParquetFormat::default().with_options(options.clone());
    let options = ListingOptions::new(Arc::new(format))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(table.schema());
    let provider = ListingTable::try_new(config).context("cannot describe the table")?;
    ctx.register_table(table.name(), Arc::new(provider))
        .context("cannot register the table")?;
    Ok(())
}

fn print(batches: &[RecordBatch], format: OutputFormat) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match format {
        OutputFormat::Table => {
            let table = datafusion::arrow::util::pretty::pretty_format_batches(batches)
                .map_err(io::Error::other)?;
            writeln!(out, "{table}")?;
        }
        OutputFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for batch in batches {
                writer.write(batch).map_err(io::Error::other)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
            for batch in batches {
                writer.write(batch).map_err(io::Error::other)?;
            }
            writer.finish().map_err(io::Error::other)?;
        }
    }
    out.flush()
}
