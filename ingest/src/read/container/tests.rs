use std::io::Cursor;

use super::*;

/// Splits `input` and returns the container, each record's text, provenance and hint.
fn split(input: &[u8]) -> (Container, Vec<(String, String, Hint)>) {
    let mut records = Vec::new();
    let mut visit = |record: &Record<'_>| {
        records.push((
            String::from_utf8_lossy(record.bytes).into_owned(),
            record.provenance.to_owned(),
            record.hint.clone(),
        ));
    };
    let summary = read(Cursor::new(input), "f", Some("conn"), &mut visit).expect("in memory");
    assert_eq!(summary.records as usize, records.len());
    (summary.container, records)
}

#[test]
fn json_lines_with_crlf_and_blank_lines() {
    let (container, records) = split(b"\r\n{\"a\":1}\r\n\r\n{\"b\":2}\r\n{\"c\":3}");
    assert_eq!(container, Container::JsonLines);
    let texts: Vec<_> = records
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("{\"a\":1}", "f:2"),
            ("{\"b\":2}", "f:4"),
            ("{\"c\":3}", "f:5")
        ]
    );
    assert_eq!(records[0].2, Hint::ZeekPath("conn".into()));
}

#[test]
fn pretty_printed_json_values_are_one_record_each() {
    let input = b"{\n  \"resourceType\": \"AuditEvent\"\n}\n{\n  \"id\": 2\n}\n";
    let (container, records) = split(input);
    assert_eq!(container, Container::JsonStream);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].0, "{\n  \"resourceType\": \"AuditEvent\"\n}");
    assert_eq!(records[1].1, "f:4");
}

#[test]
fn a_broken_json_stream_keeps_the_rest_as_one_record() {
    let (_, records) = split(b"{\n \"a\": 1\n}\n{\n \"b\": \n");
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].0, "{\n \"b\":");
    assert_eq!(records[1].1, "f:4");
}

#[test]
fn json_array_elements() {
    let (container, records) = split(b"[\n {\"a\":1},\n {\"b\":2}\n]\n");
    assert_eq!(container, Container::JsonArray);
    let texts: Vec<_> = records
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    assert_eq!(texts, [("{\"a\":1}", "f:2"), ("{\"b\":2}", "f:3")]);
}

#[test]
fn zeek_tsv_rows_carry_their_header() {
    let input = b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
        #path\tconn\n#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n\
        1692161622.036086\tCn1\t192.168.1.41\n#close\t2023-08-16-01-28-55\n";
    let (container, records) = split(input);
    assert_eq!(container, Container::ZeekTsv);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].0, "1692161622.036086\tCn1\t192.168.1.41");
    assert_eq!(records[0].1, "f:8");
    let Hint::ZeekTsv(header) = &records[0].2 else {
        panic!("no TSV header")
    };
    assert_eq!(header.separator, "\t");
    assert_eq!(header.path.as_deref(), Some("conn"));
    assert_eq!(header.fields, ["ts", "uid", "id.orig_h"]);
}

#[test]
fn csv_rows_carry_the_header_and_quoted_newlines_stay_in_their_row() {
    let input = b"access_time,user_id,patient_mrn\r\n2024-01-01T00:00:00Z,u1,\"M\r\n1\"\r\n\
        2024-01-01T00:00:01Z,u2,M2\r\n";
    let (container, records) = split(input);
    assert_eq!(container, Container::Csv);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].0, "2024-01-01T00:00:00Z,u1,\"M\r\n1\"");
    assert_eq!(records[1].1, "f:4");
    let Hint::Csv(header) = &records[0].2 else {
        panic!("no CSV header")
    };
    assert_eq!(&header[..], ["access_time", "user_id", "patient_mrn"]);
}

#[test]
fn one_xml_message_is_the_whole_file_and_several_are_split() {
    let one = b"<?xml version=\"1.0\"?>\n<AuditMessage>\n</AuditMessage>\n";
    let (container, records) = split(one);
    assert_eq!(container, Container::Xml);
    assert_eq!(
        records[0].0,
        "<?xml version=\"1.0\"?>\n<AuditMessage>\n</AuditMessage>"
    );

    let two = b"<AuditMessage>a</AuditMessage>\n<AuditMessage>b</AuditMessage>\n";
    let (_, records) = split(two);
    let texts: Vec<_> = records
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("<AuditMessage>a</AuditMessage>", "f:1"),
            ("<AuditMessage>b</AuditMessage>", "f:2")
        ]
    );
}

#[test]
fn syslog_lines_and_unknown_text_are_lines() {
    let (container, records) = split(b"<85>1 2024-01-01T00:00:00Z h a - - - <AuditMessage/>\n");
    assert_eq!(container, Container::Lines);
    assert_eq!(records.len(), 1);
    let (container, records) = split(b"hello\nworld\n");
    assert_eq!(container, Container::Lines);
    assert_eq!(records.len(), 2);
}

#[test]
fn empty_and_blank_files_have_no_records() {
    assert_eq!(split(b"").0, Container::Empty);
    assert_eq!(split(b"\n\r\n  \n").0, Container::Empty);
}
