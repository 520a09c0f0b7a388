//! Bytes no one wrote: every normalizer, fed anything, returns events or dead letters and
//! never panics, and every record is accounted for.

use proptest::prelude::*;
use std::sync::Arc;
use ward_ingest::record::{Hint, Record, ZeekTsvHeader};
use ward_ingest::{Format, FormatChoice, Normalizer};

/// Record-shaped inputs: raw bytes, and mutations of real-looking records of each format
/// so the fuzzing reaches past the first parse error.
fn records() -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<&'static str> = vec![
        concat!(
            r#"{"EventID":4624,"Channel":"Security","Hostname":"WS6.x.local","#,
            r#""@timestamp":"2020-09-20T16:16:58.212Z","LogonType":"3","IpAddress":"1.2.3.4","#,
            r#""IpPort":"5"}"#,
        ),
        concat!(
            r##"{"Event":{"System":{"EventID":{"#text":7045},"Channel":"System","Computer":"a","##,
            r##""TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T00:41:29Z"}}},"##,
            r##""EventData":{"ServiceName":"x"}}}"##,
        ),
        concat!(
            r#"{"_path":"smb_mapping","ts":"2018-03-24T17:15:21.382822Z","id.orig_h":"1.2.3.4","#,
            r#""id.orig_p":1,"id.resp_h":"5.6.7.8","id.resp_p":445,"path":"\\\\H\\ADMIN$"}"#,
        ),
        concat!(
            r#"{"@stream":"conn","ts":1588205199.82437,"id_orig_h":"10.0.1.6","id_orig_p":54243,"#,
            r#""id_resp_h":"10.0.0.4","id_resp_p":53,"proto":"udp"}"#,
        ),
        concat!(
            r#"{"timestamp":"2015-03-29T11:01:38.221126-0600","event_type":"alert","#,
            r#""src_ip":"1.2.3.4","src_port":1,"dest_ip":"5.6.7.8","dest_port":22,"proto":"TCP","#,
            r#""alert":{"signature":"x","severity":2}}"#,
        ),
        concat!(
            r#"{"resourceType":"AuditEvent","recorded":"2013-06-20T23:42:24Z","action":"R","#,
            r#""outcome":"0","agent":[{"requestor":true,"who":{"identifier":{"value":"95"}},"#,
            r#""network":{"address":"ws1"}}],"entity":[{"what":{"reference":"Patient/example"}}]}"#,
        ),
        concat!(
            r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"AuditEvent","#,
            r#""recorded":"2013-06-20T23:42:24Z"}}]}"#,
        ),
        concat!(
            r#"<AuditMessage><EventIdentification EventActionCode="R" "#,
            r#"EventDateTime="2024-09-03T13:03:17.930+02:00" EventOutcomeIndicator="0">"#,
            r#"<EventID csd-code="110110"/></EventIdentification>"#,
            r#"<ParticipantObjectIdentification ParticipantObjectID="1" "#,
            r#"ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"/></AuditMessage>"#,
        ),
        "[{\"EventID\":1}, 3, \"x\"]",
    ];
    let mutated = (
        prop::sample::select(seeds),
        any::<usize>(),
        any::<u8>(),
        0usize..40,
    )
        .prop_map(|(seed, at, byte, cut)| {
            let mut bytes = seed.as_bytes().to_vec();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(bytes.len().saturating_sub(cut));
            bytes
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..512), mutated]
}

fn hints() -> impl Strategy<Value = Hint> {
    let tsv = ZeekTsvHeader {
        path: Some("conn".into()),
        fields: [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "proto",
        ]
        .map(String::from)
        .to_vec(),
        ..ZeekTsvHeader::default()
    };
    let csv: Arc<[String]> = [
        "access_time",
        "user_id",
        "workstation_id",
        "patient_mrn",
        "action",
    ]
    .map(String::from)
    .into();
    prop_oneof![
        Just(Hint::None),
        Just(Hint::ZeekPath("conn".into())),
        Just(Hint::ZeekTsv(Arc::new(tsv))),
        Just(Hint::Csv(csv)),
    ]
}

fn choices() -> impl Strategy<Value = FormatChoice> {
    prop_oneof![
        Just(FormatChoice::Auto),
        prop::sample::select(Format::ALL.to_vec()).prop_map(FormatChoice::Fixed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics_and_every_record_is_accounted_for(
        bytes in records(),
        hint in hints(),
        choice in choices(),
    ) {
        let record = Record { bytes: &bytes, provenance: "fuzz:1", hint: &hint, received: None };
        let mut events = Vec::new();
        let mut dead = Vec::new();
        Normalizer::new(choice).normalize(&record, &mut events, &mut dead);

        // A record becomes events, or dead letters that keep its bytes; arrays may split.
        let array = bytes.trim_ascii_start().starts_with(b"[");
        prop_assert!(!events.is_empty() || !dead.is_empty() || array);
        for letter in &dead {
            prop_assert!(letter.provenance.starts_with("fuzz:1"));
            let message = letter.reason.to_string();
            prop_assert!(!message.is_empty());
        }
        for event in &events {
            prop_assert!(event.provenance.starts_with("fuzz:1"));
        }
    }
}
