//! `ward serve`: the lake over HTTP, for dashboards, SIEM pull jobs and case tools.
//!
//! Every request but `GET /healthz` must carry `Authorization: Bearer <token>` with a
//! token `ward token` made. The tokens file keeps each token's name and SHA-256, never
//! the token. A request without a valid token gets 401 and a WARN log line with the
//! caller's address, the method, the path and why; it reaches no data and adds nothing
//! to the lake, so an anonymous caller cannot grow the audit record. An authorized use is
//! recorded in `access_log` (channel `http`, the token's name as actor) before its
//! answer is sent, as every use from the command line is.
//!
//! Endpoints, all answering JSON:
//! - `POST /v1/query` with `{"sql": "..."}`: `{"rows": [...], "truncated": false}`.
//! - `GET /v1/incidents`: every incident in its latest state.
//! - `GET /v1/reports/patient-access?patient=ID[&from=T][&to=T]`
//! - `GET /v1/reports/user-activity?user=NAME[&from=T][&to=T]`
//! - `GET /v1/reports/incident/{id}`: the reports `ward report` prints as JSON.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{ConnectInfo, Extension, Json, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};
use ward_storage::{Lake, LakeKey, default_writer_id};

use crate::access::Use;
use crate::report::{self, Period, ReportKind};
use crate::run::config::RunConfig;

/// Most rows one `/v1/query` answer carries; more are cut and flagged `truncated`.
const MAX_ROWS: usize = 100_000;

/// Serve the lake over HTTP to holders of API tokens: SQL, incidents and reports.
///
/// Make tokens with `ward token NAME --tokens FILE`; the file is read at start, so
/// restart the server after adding or removing one. Every authorized request is recorded
/// in the lake's access log under its token's name; unauthenticated ones get 401 and a
/// log line. Plain HTTP: keep it on loopback or behind a TLS proxy. Stop with Ctrl-C or
/// SIGTERM.
///
/// Example: ward serve --lake lake --tokens /etc/ward/tokens.toml --listen 127.0.0.1:8480
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The lake folder [default: `lake` from the configuration].
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,

    /// Configuration file (the one `ward run` reads), for `lake` and the lake key.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The API tokens file `ward token` writes.
    #[arg(long, value_name = "FILE")]
    tokens: PathBuf,

    /// Address and port to listen on; port 0 picks a free one (printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
}

/// Make an API token for `ward serve`: printed once, its hash added to the tokens file.
///
/// The token is 32 random bytes from the operating system. Keep it like a password; the
/// file holds only its SHA-256, so a lost token cannot be recovered, only replaced.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token's name, recorded as the actor of every use made with it (a person or a
    /// system: `siem-pull`, `jsmith-privacy`).
    name: String,

    /// The tokens file to add it to (created, readable by its owner only, if missing).
    #[arg(long, value_name = "FILE")]
    tokens: PathBuf,
}

/// The tokens file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

/// One token: its name and the hex SHA-256 of the token text.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    sha256: String,
}

impl TokensFile {
    fn load(path: &Path) -> Result<TokensFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the tokens file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid tokens file {}", path.display()))
    }

    /// The name of the token whose hash is `hash`.
    fn name_of(&self, hash: &str) -> Option<&str> {
        let entry = self.tokens.iter().find(|entry| entry.sha256 == hash);
        entry.map(|entry| entry.name.as_str())
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Runs `ward token`.
pub fn token(args: TokenArgs) -> Result<()> {
    let name = args.name.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        bail!("a token needs a name without control characters");
    }
    let mut file = match args.tokens.exists() {
        true => TokensFile::load(&args.tokens)?,
        false => TokensFile::default(),
    };
    if file.tokens.iter().any(|entry| entry.name == name) {
        bail!(
            "{} already has a token named {name}; remove its entry to replace it",
            args.tokens.display()
        );
    }
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut secret))
        .context("cannot read random bytes from /dev/urandom")?;
    let token = format!("ward_{}", hex::encode(secret));
    file.tokens.push(TokenEntry {
        name: name.to_owned(),
        sha256: token_hash(&token),
    });

    // Written beside the file (through a symlink, beside its target), readable by its
    // owner only or with the old file's permissions, then renamed over it, so a crash
    // leaves the old file or the new one.
    let text = toml::to_string(&file).context("cannot encode the tokens file")?;
    let target = std::fs::canonicalize(&args.tokens).unwrap_or_else(|_| args.tokens.clone());
    let mut staged = target.clone().into_os_string();
    staged.push(".new");
    let staged = PathBuf::from(staged);
    let _ = std::fs::remove_file(&staged);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&staged).and_then(|mut out| {
        out.write_all(text.as_bytes())?;
        if let Ok(old) = std::fs::metadata(&target) {
            out.set_permissions(old.permissions())?;
        }
        out.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&staged, &target))
        .with_context(|| format!("cannot write {}", args.tokens.display()))?;
    println!("{token}");
    eprintln!(
        "ward token: {name} added to {}; the token above is shown once",
        args.tokens.display()
    );
    Ok(())
}

/// What every handler shares.
struct App {
    /// The lake folder.
    lake: PathBuf,
    /// Its key, when it is encrypted.
    key: Option<LakeKey>,
    /// Who may ask.
    tokens: TokensFile,
    /// The access log's writer, one for the server's life.
    writer: Mutex<Lake>,
}

/// The name of the token a request came with.
#[derive(Debug, Clone)]
struct Caller(String);

/// Runs `ward serve`.
pub fn serve(args: ServeArgs) -> Result<()> {
    let (lake, _, key) = RunConfig::lake_and_key(args.lake, args.config.as_deref())?;
    let tokens = TokensFile::load(&args.tokens)?;
    if tokens.tokens.is_empty() {
        bail!(
            "{} holds no tokens, so no one could use the server: add one with `ward token \
             NAME --tokens {}`",
            args.tokens.display(),
            args.tokens.display()
        );
    }
    let writer = Lake::open_with_key(&lake, &default_writer_id(), key.clone())
        .with_context(|| format!("cannot open the lake {}", lake.display()))?;
    let app = Arc::new(App {
        lake,
        key,
        tokens,
        writer: Mutex::new(writer),
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr().context("no local address")?;
        println!("ward serve: listening on http://{address}");
        std::io::stdout().flush().ok();
        info!(%address, lake = %app.lake.display(), tokens = app.tokens.tokens.len(), "serving");

        let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown())
            .await
            .context("the server failed")
    })?;
    info!("server stopped");
    Ok(())
}

fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/v1/query", post(query))
        .route("/v1/incidents", get(incidents))
        .route("/v1/reports/patient-access", get(patient_access))
        .route("/v1/reports/user-activity", get(user_activity))
        .route("/v1/reports/incident/{id}", get(incident))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            authenticate,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(api)
        .with_state(app)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            interrupt.await.ok();
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
}

/// Lets a request through with its [`Caller`] when it carries a known token; answers 401
/// and logs it otherwise.
async fn authenticate(
    State(app): State<Arc<App>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        });
    let caller = match presented {
        None => Err("no bearer token"),
        Some(token) => app
            .tokens
            .name_of(&token_hash(token.trim()))
            .ok_or("unknown token"),
    };
    match caller {
        Ok(name) => {
            let name = name.to_owned();
            let method = request.method().clone();
            debug!(caller = %name, %method, path = request.uri().path(), "request");
            request.extensions_mut().insert(Caller(name));
            next.run(request).await
        }
        Err(reason) => {
            warn!(
                %remote,
                method = %request.method(),
                path = request.uri().path(),
                reason,
                "request denied: 401"
            );
            let mut response = ApiError::new(StatusCode::UNAUTHORIZED, reason).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// An error answer: a status and a message, as `{"error": "..."}`.
struct ApiError {
    /// The HTTP status.
    status: StatusCode,
    /// What went wrong, for the caller.
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl App {
    /// Records `access` with its outcome, off the async threads (it syncs to disk).
    async fn record(self: &Arc<Self>, access: Use, rows: Option<u64>) -> Result<(), ApiError> {
        let app = Arc::clone(self);
        let recorded = tokio::task::spawn_blocking(move || {
            let mut writer = app
                .writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            access.commit(&mut writer, rows)
        })
        .await;
        match recorded {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                warn!(error = %format!("{err:#}"), "access log write failed");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the use cannot be recorded in the access log, so it is not answered; \
                     the server log says why",
                ))
            }
            Err(_) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the access log writer stopped",
            )),
        }
    }

    /// Runs `sql` and answers with its rows, recording the use as `action`.
    async fn answer_sql(
        self: &Arc<Self>,
        caller: &Caller,
        action: &'static str,
        sql: &str,
    ) -> Result<Json<Value>, ApiError> {
        let access = Use::start(action, sql.to_owned()).via("http", &caller.0);
        let result = async {
            let ctx = crate::query::session(&self.lake, self.key.as_ref()).await?;
            crate::report::queries::rows(&ctx, sql, Vec::new()).await
        }
        .await;
        match result {
            Ok(mut rows) => {
                let truncated = rows.len() > MAX_ROWS;
                rows.truncate(MAX_ROWS);
                self.record(access, Some(rows.len() as u64)).await?;
                Ok(Json(json!({ "rows": rows, "truncated": truncated })))
            }
            Err(err) => {
                self.record(access, None).await?;
                Err(ApiError::new(StatusCode::BAD_REQUEST, format!("{err:#}")))
            }
        }
    }

    /// Builds and answers a report, recording the use.
    async fn answer_report(
        self: &Arc<Self>,
        caller: &Caller,
        kind: ReportKind,
    ) -> Result<Json<Value>, ApiError> {
        let access = Use::start("report", report::describe(&kind)).via("http", &caller.0);
        match report::build(&self.lake, self.key.as_ref(), &kind).await {
            Ok(built) => {
                let rows = built.main_rows();
                self.record(access, Some(rows)).await?;
                Ok(Json(report::render::value(&built)))
            }
            Err(err) => {
                self.record(access, None).await?;
                Err(ApiError::new(StatusCode::BAD_REQUEST, format!("{err:#}")))
            }
        }
    }
}

/// The body of `POST /v1/query`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
}

async fn query(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Json(request): Json<SqlRequest>,
) -> Result<Json<Value>, ApiError> {
    app.answer_sql(&caller, "query", &request.sql).await
}

/// Each incident in its latest state: the row with the most evidence.
const INCIDENTS_SQL: &str = "SELECT incident_id, first_seen, last_seen, path, users, \
     techniques, rules, severity, score, reason, patients_affected, triage FROM (SELECT *, \
     row_number() OVER (PARTITION BY incident_id ORDER BY array_length(evidence) DESC, \
     last_seen DESC) AS latest FROM incidents) WHERE latest = 1 ORDER BY first_seen, \
     incident_id";

async fn incidents(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    app.answer_sql(&caller, "incidents", INCIDENTS_SQL).await
}

/// The query string of the patient-access and user-activity reports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    patient: Option<String>,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl ReportQuery {
    fn period(&self) -> Result<Period, ApiError> {
        let time = |text: &Option<String>| {
            text.as_deref()
                .map(report::parse_time)
                .transpose()
                .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, err))
        };
        Ok(Period {
            from: time(&self.from)?,
            to: time(&self.to)?,
        })
    }
}

async fn patient_access(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    let period = params.period()?;
    let patient = params
        .patient
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "give ?patient=ID"))?;
    app.answer_report(&caller, ReportKind::PatientAccess { patient, period })
        .await
}

async fn user_activity(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    let period = params.period()?;
    let user = params
        .user
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "give ?user=NAME"))?;
    app.answer_report(&caller, ReportKind::UserActivity { user, period })
        .await
}

async fn incident(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    app.answer_report(&caller, ReportKind::Incident { id })
        .await
}
