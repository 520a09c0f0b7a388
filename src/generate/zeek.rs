//! Zeek conn records as JSON lines, in the `_path` dialect: dotted keys (`id.orig_h`),
//! ISO 8601 times, and the sensor's name in `_system_name`, as Brim and Zed exports and
//! Zeek's JSON writer with `LogAscii::use_json` and ISO timestamps write them.
//!
//! Zeek omits fields it has no value for, so a connection without a recognized
//! application protocol has no `service` key. Packet counts are derived from payload
//! sizes (about one packet per MSS of payload plus the handshake); nothing downstream
//! reads them closely, but a conn record without them would look hand-made.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::hospital::SENSOR;
use super::records::{Conn, Ordered, Proto};

/// Zeek writes a record this long after a connection's last packet, once its state
/// times out or closes.
const WRITE_DELAY: TimeDelta = TimeDelta::milliseconds(1_500);

/// The conn log line of `conn`, with identifier `uid`, by a sensor whose clock is off by
/// `skew` (positive: ahead of true time).
pub(super) fn to_line(conn: &Conn, uid: &str, skew: TimeDelta) -> String {
    let ts = conn.time + skew;
    let written = ts + conn.duration + WRITE_DELAY;
    let (orig_pkts, orig_ip_bytes) = packets(conn.proto, conn.orig_bytes);
    let (resp_pkts, resp_ip_bytes) = packets(conn.proto, conn.resp_bytes);
    let (state, history) = match conn.proto {
        Proto::Tcp => ("SF", "ShADadFf"),
        Proto::Udp => ("SF", "Dd"),
    };

    let mut fields: Vec<(&'static str, Value)> = vec![
        ("_path", json!("conn")),
        ("_system_name", json!(SENSOR)),
        ("_write_ts", json!(iso(written))),
        ("ts", json!(iso(ts))),
        ("uid", json!(uid)),
        ("id.orig_h", json!(conn.orig.0)),
        ("id.orig_p", json!(conn.orig.1)),
        ("id.resp_h", json!(conn.resp.0)),
        ("id.resp_p", json!(conn.resp.1)),
        ("proto", json!(conn.proto.to_string())),
    ];
    if let Some(service) = conn.service {
        fields.push(("service", json!(service)));
    }
    fields.extend([
        ("duration", json!(seconds(conn.duration))),
        ("orig_bytes", json!(conn.orig_bytes)),
        ("resp_bytes", json!(conn.resp_bytes)),
        ("conn_state", json!(state)),
        ("local_orig", json!(true)),
        ("local_resp", json!(conn.local_resp)),
        ("missed_bytes", json!(0)),
        ("history", json!(history)),
        ("orig_pkts", json!(orig_pkts)),
        ("orig_ip_bytes", json!(orig_ip_bytes)),
        ("resp_pkts", json!(resp_pkts)),
        ("resp_ip_bytes", json!(resp_ip_bytes)),
    ]);
    serde_json::to_string(&Ordered(&fields)).expect("string keys and JSON values always serialize")
}

/// Zeek's ISO 8601 form: UTC with microseconds.
fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A duration as Zeek's `interval`: seconds with microsecond precision.
fn seconds(duration: TimeDelta) -> f64 {
    // Microseconds of a generated connection fit an f64 exactly.
    duration.num_microseconds().unwrap_or(0) as f64 / 1e6
}

/// Packets and IP bytes for `payload` bytes in one direction.
fn packets(proto: Proto, payload: u64) -> (u64, u64) {
    match proto {
        Proto::Tcp => {
            let packets = payload.div_ceil(1_448) + 3;
            (packets, payload + packets * 52)
        }
        Proto::Udp => {
            let packets = payload.div_ceil(1_472).max(1);
            (packets, payload + packets * 28)
        }
    }
}
