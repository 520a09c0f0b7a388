//! `ward serve` on a lake replayed from the real data, spoken to over real HTTP: 401 for
//! a missing or wrong token, logged and adding nothing to the lake; with a token, SQL,
//! incidents and reports that match the command line's, each recorded in the access log
//! under the token's name.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::lake::{count, query};
use common::{arg, replay_lab, text, ward};
use serde_json::{Value, json};

/// A running `ward serve`, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(lake: &Path, tokens: &Path, log: &Path) -> Server {
        let log = std::fs::File::create(log).expect("a log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["serve", "--lake", arg(lake), "--tokens", arg(tokens)])
            .args(["--listen", "127.0.0.1:0"])
            .env("WARD_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("ward serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the listening line");
        let address = line
            .trim()
            .strip_prefix("ward serve: listening on http://")
            .unwrap_or_else(|| panic!("not the listening line: {line:?}"))
            .to_owned();
        Server { child, address }
    }

    /// One HTTP/1.1 request; the status and the body as JSON (or as a JSON string when
    /// it is not JSON).
    fn request(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("a response");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .expect("a header and a body");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
        (status, body)
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        let status = self.child.wait().expect("the server exits");
        assert!(
            status.success(),
            "ward serve exits cleanly on SIGTERM: {status}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_http_api_answers_token_holders_and_turns_everyone_else_away() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let lake = dir.path().join("lake");
    replay_lab(dir.path(), &lake, &[]);

    let tokens = dir.path().join("tokens.toml");
    let output = ward(&["token", "soc-dashboard", "--tokens", arg(&tokens)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(token.starts_with("ward_") && token.len() == 69, "{token}");
    let stored = std::fs::read_to_string(&tokens).expect("the tokens file");
    assert!(
        stored.contains("soc-dashboard") && !stored.contains(&token),
        "hash only"
    );
    let again = ward(&["token", "soc-dashboard", "--tokens", arg(&tokens)]);
    assert_eq!(again.status.code(), Some(2), "names are unique");

    let log = dir.path().join("serve.log");
    let server = Server::start(&lake, &tokens, &log);
    let (status, _) = server.request("GET", "/healthz", None, "");
    assert_eq!(status, 200);

    // No token, a wrong token: 401, logged, and nothing recorded in the lake.
    let sql = json!({ "sql": "SELECT count(*) AS n FROM events" }).to_string();
    let entries_before = manifest_lines(&lake);
    let wrong = format!("ward_{}", "0".repeat(64));
    for presented in [None, Some(wrong.as_str())] {
        let (status, body) = server.request("POST", "/v1/query", presented, &sql);
        assert_eq!(status, 401, "{body}");
        assert!(text(&body, "error").contains("token"), "{body}");
        let (status, _) = server.request("GET", "/v1/incidents", presented, "");
        assert_eq!(status, 401);
    }
    assert_eq!(
        manifest_lines(&lake),
        entries_before,
        "denials add nothing to the lake"
    );

    // With the token: the same answers as the command line.
    let (status, body) = server.request("POST", "/v1/query", Some(&token), &sql);
    assert_eq!(status, 200, "{body}");
    let events = count(&lake, "SELECT count(*) AS n FROM events");
    assert_eq!(body["rows"][0]["n"].as_u64(), Some(events));
    assert_eq!(body["truncated"], false);

    let (status, body) = server.request("GET", "/v1/incidents", Some(&token), "");
    assert_eq!(status, 200, "{body}");
    let incidents = body["rows"].as_array().expect("rows");
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        incidents[0]["path"],
        json!(["workstation5", "workstation6"])
    );
    let id = text(&incidents[0], "incident_id").to_owned();

    let path = "/v1/reports/user-activity?user=pgustavo";
    let (status, api_report) = server.request("GET", path, Some(&token), "");
    assert_eq!(status, 200, "{api_report}");
    let output = ward(&[
        "report",
        "user-activity",
        "--user",
        "pgustavo",
        "--lake",
        arg(&lake),
        "--format",
        "json",
    ]);
    let cli_report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(api_report["sections"], cli_report["sections"]);

    let (status, body) = server.request(
        "GET",
        &format!("/v1/reports/incident/{id}"),
        Some(&token),
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["path"], json!(["workstation5", "workstation6"]));

    // The patient-access report, asked for the FHIR examples' most accessed patient.
    let top = query(
        &lake,
        "SELECT patient_id, count(*) AS n FROM events WHERE patient_id IS NOT NULL \
         GROUP BY patient_id ORDER BY n DESC, patient_id LIMIT 1",
    );
    let patient = text(&top[0], "patient_id").to_owned();
    let path = format!("/v1/reports/patient-access?patient={patient}");
    let (status, body) = server.request("GET", &path, Some(&token), "");
    assert_eq!(status, 200, "{body}");
    let accesses = body["sections"][0]["rows"].as_array().expect("rows");
    assert_eq!(Some(accesses.len() as u64), top[0]["n"].as_u64());

    // SQL that would write is refused: no export of the lake to a file through the API.
    let export = dir.path().join("export.csv");
    let copy = format!("COPY (SELECT * FROM events) TO '{}'", arg(&export));
    let copy = json!({ "sql": copy }).to_string();
    let (status, body) = server.request("POST", "/v1/query", Some(&token), &copy);
    assert_eq!(status, 400, "{body}");
    assert!(!export.exists(), "nothing was written");

    let bad = json!({ "sql": "SELECT nothing FROM nowhere" }).to_string();
    let (status, body) = server.request("POST", "/v1/query", Some(&token), &bad);
    assert_eq!(status, 400);
    assert!(text(&body, "error").contains("nowhere"), "{body}");
    server.stop();

    // The access log holds every authorized use under the token's name, and no denial.
    let uses = query(
        &lake,
        "SELECT actor, action, outcome FROM access_log WHERE channel = 'http' ORDER BY time",
    );
    let uses: Vec<(String, String, String)> = uses
        .iter()
        .map(|row| {
            let field = |name| text(row, name).to_owned();
            (field("actor"), field("action"), field("outcome"))
        })
        .collect();
    let soc = |action: &str, outcome: &str| {
        (
            "soc-dashboard".to_owned(),
            action.to_owned(),
            outcome.to_owned(),
        )
    };
    assert_eq!(
        uses,
        [
            soc("query", "ok"),
            soc("incidents", "ok"),
            soc("report", "ok"),
            soc("report", "ok"),
            soc("report", "ok"),
            soc("query", "error"),
            soc("query", "error"),
        ]
    );

    // The log names each denial with its path and reason, and never a token.
    let log = std::fs::read_to_string(&log).expect("the server log");
    let denials: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("request denied"))
        .collect();
    assert_eq!(denials.len(), 4, "{log}");
    assert!(
        denials
            .iter()
            .any(|l| l.contains("/v1/query") && l.contains("no bearer token"))
    );
    assert!(
        denials
            .iter()
            .any(|l| l.contains("/v1/incidents") && l.contains("unknown token"))
    );
    assert!(!log.contains(&token) && !log.contains(&wrong));
    assert!(!log.contains(&patient), "no patient id in the server log");
}

fn manifest_lines(lake: &Path) -> usize {
    let text = std::fs::read_to_string(lake.join("_manifest/manifest.jsonl")).expect("manifest");
    text.lines().count()
}
