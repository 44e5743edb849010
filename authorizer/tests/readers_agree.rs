//! The fast event reader gives the reference reader's answer for every input it answers, and answers the
//! events API Gateway sends. Inputs: the documented events (compact, as API Gateway sends them, and
//! pretty-printed), then every one-byte edit of them with bytes that matter to JSON, then hand-written
//! cases at the edges of the grammar. The fuzz target checks the same property on random inputs.

mod common;

use common::*;
use origin_verify_authorizer::event::{Event, Presented, Unrecognised};

/// Bytes that change what JSON means, for the edits (0xC3 starts a two-byte UTF-8 character, 0xA9 can
/// only continue one).
const EDIT_BYTES: &[u8] = b"\"\\{}[],: \n\t0-.eEnu\x01a\xC3\xA9";

/// The documented events with the header set, compact and pretty-printed.
fn documented() -> Vec<String> {
    KINDS
        .iter()
        .flat_map(|&kind| {
            let compact = event(kind, Some(CURRENT));
            let value: serde_json::Value = serde_json::from_str(&compact).expect("JSON");
            [compact, serde_json::to_string_pretty(&value).expect("JSON")]
        })
        .collect()
}

/// The fast reader's answer, if it answers, checked against the reference's. Returns whether it answered.
fn agree<R: AsRef<[u8]> + ?Sized>(input: &R) -> bool {
    let Some(fast) = Event::parse_fast(input, HEADER) else {
        return false;
    };
    let reference = Event::parse_reference(input, HEADER);
    let shown = String::from_utf8_lossy(input.as_ref());
    assert_eq!(fast, reference, "the readers disagree on {shown:?}");
    true
}

#[test]
fn documented_events_are_read_by_the_fast_reader_as_the_reference_reads_them() {
    for input in documented() {
        assert!(agree(&input), "declined a documented event: {input}");
        let event = Event::parse(&input, HEADER).expect("an event");
        assert_eq!(event.header, Presented::One(CURRENT.into()));
    }
}

#[test]
fn every_one_byte_edit_of_the_documented_events_gets_the_reference_answer() {
    let (mut answered, mut total) = (0usize, 0usize);
    for input in documented() {
        let bytes = input.as_bytes();
        for i in 0..=bytes.len() {
            let mut edits: Vec<Vec<u8>> = Vec::with_capacity(2 * EDIT_BYTES.len() + 1);
            if i < bytes.len() {
                edits.push([&bytes[..i], &bytes[i + 1..]].concat());
                for &b in EDIT_BYTES {
                    edits.push([&bytes[..i], &[b], &bytes[i + 1..]].concat());
                }
            }
            for &b in EDIT_BYTES {
                edits.push([&bytes[..i], &[b], &bytes[i..]].concat());
            }
            for edit in edits {
                total += 1;
                answered += usize::from(agree(&edit));
            }
        }
    }
    // Declining is only for escapes in strings that matter and deep nesting: rare among these edits.
    assert!(
        answered * 100 >= total * 95,
        "the fast reader answered only {answered} of {total} edits"
    );
}

#[test]
fn grammar_edges_get_the_reference_answer() {
    let cases = [
        // Whitespace and what may follow the event.
        " {\"version\":\"2.0\"} \n\t\r",
        "{\"version\":\"2.0\"}x",
        "{\"version\":\"2.0\"},",
        "\u{feff}{\"version\":\"2.0\"}",
        "{\"version\":\"2.0\"\u{b}}",
        // Field types, null, duplicates.
        r#"{"version":null,"type":"TOKEN","authorizationToken":null}"#,
        r#"{"version":2}"#,
        r#"{"version":"2.0","version":"2.0"}"#,
        r#"{"version":"2.0","headers":null}"#,
        r#"{"version":"2.0","headers":[]}"#,
        r#"{"version":"2.0","headers":{"x-origin-verify":null}}"#,
        r#"{"version":"2.0","headers":{"x-origin-verify":1}}"#,
        r#"{"version":"2.0","headers":{"X-Origin-Verify":"a","x-origin-verify":"a"}}"#,
        r#"{"type":"REQUEST","multiValueHeaders":{"x-origin-verify":"a"}}"#,
        r#"{"type":"REQUEST","multiValueHeaders":{"x-origin-verify":[]},"headers":{"x-origin-verify":"a"}}"#,
        r#"{"type":"REQUEST","multiValueHeaders":{"x-origin-verify":["a",["b"],{}],"X-ORIGIN-VERIFY":["c"]}}"#,
        r#"{"type":"REQUEST","multiValueHeaders":null}"#,
        // Numbers and literals in skipped values.
        r#"{"version":"2.0","n":[0,-0,1.5,-1e5,1E+2,2e-3,10]}"#,
        r#"{"version":"2.0","n":01}"#,
        r#"{"version":"2.0","n":-}"#,
        r#"{"version":"2.0","n":1.}"#,
        r#"{"version":"2.0","n":1e}"#,
        r#"{"version":"2.0","n":.5}"#,
        r#"{"version":"2.0","n":+1}"#,
        r#"{"version":"2.0","n":[true,false,null]}"#,
        r#"{"version":"2.0","n":tru}"#,
        r#"{"version":"2.0","n":nulll}"#,
        // Escapes in skipped strings are checked, not declined.
        r#"{"version":"2.0","ua":"\"Chromium\";v=\"118\" \\ \/ \b\f\n\r\t \u00e9 \ud800"}"#,
        r#"{"version":"2.0","ua":"\x"}"#,
        r#"{"version":"2.0","ua":"\u12"}"#,
        r#"{"version":"2.0","ua":"\u12G4"}"#,
        "{\"version\":\"2.0\",\"ua\":\"tab\there\"}",
        // Structure.
        r#"{"version":"2.0","o":{"a":{"b":[[],{},[{}]]}}}"#,
        r#"{"version":"2.0","o":{"a":1,}}"#,
        r#"{"version":"2.0","o":[1,]}"#,
        r#"{"version":"2.0","o":{"a" 1}}"#,
        r#"{"version":"2.0","o":{1:1}}"#,
        r#"{"version":"2.0","o":[1 2]}"#,
        r#"{"version":"2.0","o":{"a":1]}"#,
        r#"{"version":"2.0",}"#,
        r#"{"version":"2.0""#,
        r#"{"version":"2.0"#,
        "",
        "[]",
        "null",
        "{}",
    ];
    for case in cases {
        assert!(agree(case), "declined {case:?}");
    }
}

#[test]
fn utf8_is_checked_where_it_can_break_get_the_reference_answer() {
    let cases: [&[u8]; 8] = [
        b"{\"version\":\"2.0\",\"ua\":\"caf\xC3\xA9\"}",
        b"{\"version\":\"2.0\",\"ua\":\"caf\xC3\"}",
        b"{\"version\":\"2.0\",\"ua\":\"\xFF\"}",
        b"{\"version\":\"2.0\",\"ua\":\"\xED\xA0\x80\"}",
        b"{\"version\":\"2.0\"}\xC3\xA9",
        b"{\"version\":\"2.0\",\xC3\xA9:1}",
        b"{\"version\":\"2.0\",\"headers\":{\"x-origin-verify\":\"\xC3\xA9t\xC3\xA9 long enough for a word\"}}",
        b"{\"version\":\"2.0\",\"headers\":{\"x-origin-verify\":\"\xC3\"}}",
    ];
    for case in cases {
        assert!(agree(case), "declined {:?}", String::from_utf8_lossy(case));
    }
    let event = Event::parse(cases[6], HEADER).expect("an event");
    assert_eq!(
        event.header,
        Presented::One("\u{e9}t\u{e9} long enough for a word".into())
    );
}

#[test]
fn escapes_in_strings_that_matter_are_left_to_the_reference() {
    for declined in [
        r#"{"version":"2.0","headers":{"x-origin-verify":"a\u0041"}}"#,
        r#"{"version":"2.0","headers":{"x-origin-verif\u0079":"a"}}"#,
        r#"{"vers\u0069on":"2.0"}"#,
        r#"{"version":"2\u002e0"}"#,
    ] {
        assert_eq!(Event::parse_fast(declined, HEADER), None, "{declined}");
        // And `parse` still reads them.
        assert!(Event::parse(declined, HEADER).is_ok(), "{declined}");
    }
    let deep = format!(
        r#"{{"version":"2.0","o":{}{}}}"#,
        "[".repeat(129),
        "]".repeat(129)
    );
    assert_eq!(Event::parse_fast(&deep, HEADER), None);
    assert!(Event::parse(&deep, HEADER).is_ok());
    let deep_enough = format!(
        r#"{{"version":"2.0","o":{}{}}}"#,
        "[".repeat(128),
        "]".repeat(128)
    );
    assert!(agree(&deep_enough));
}

#[test]
fn identity_source_shapes_get_the_reference_answer() {
    let v2 = |identity: &str| {
        format!(r#"{{"version":"2.0","identitySource":{identity},"headers":{{"x-origin-verify":"v"}}}}"#)
    };
    let v1 = |identity: &str| {
        format!(r#"{{"version":"1.0","identitySource":{identity},"headers":{{"x-origin-verify":"v"}}}}"#)
    };
    // What each is read as: an event (its header and identity source checked by the handler), or refused.
    let read = |input: &str| Event::parse(input, HEADER).map(|_| ());
    let malformed = Err(Unrecognised::Malformed);
    let cases = [
        (v2(r#"["v"]"#), Ok(())),
        (v2(r#"[ "v" ]"#), Ok(())),
        (v2("[]"), Ok(())),
        (v2("[ ]"), Ok(())),
        (v2(r#"["v","w"]"#), Ok(())),
        (v2(r#"["v","w","x"]"#), Ok(())),
        (v2("[\"caf\u{e9}\"]"), Ok(())),
        (v2("null"), Ok(())),
        (v1(r#""v""#), Ok(())),
        (v1(r#""""#), Ok(())),
        (v1(r#""v,w""#), Ok(())),
        (v1("null"), Ok(())),
        // Wrong types, the other payload's shape, broken lists.
        (v2(r#""v""#), malformed),
        (v1(r#"["v"]"#), malformed),
        (v2("[5]"), malformed),
        (v2(r#"["v",5]"#), malformed),
        (v2(r#"["v",null]"#), malformed),
        (v2(r#"[["v"]]"#), malformed),
        (v2(r#"{"v":"v"}"#), malformed),
        (v2("true"), malformed),
        (v1("1"), malformed),
        (v2(r#"["v",]"#), malformed),
        (v2(r#"["v" "w"]"#), malformed),
        (v2(r#"["v""#), malformed),
        (v2("[,]"), malformed),
        (v2("nul"), malformed),
        // Given twice, even alike or null (which one counts would be ambiguous).
        (
            r#"{"version":"2.0","identitySource":["v"],"identitySource":["v"],"headers":{"x-origin-verify":"v"}}"#
                .to_owned(),
            malformed,
        ),
        (
            r#"{"version":"1.0","identitySource":null,"identitySource":"v","headers":{"x-origin-verify":"v"}}"#
                .to_owned(),
            malformed,
        ),
        // REST events carry none: any string or list of strings is ignored, other types are refused.
        (r#"{"type":"REQUEST","identitySource":["v","w"]}"#.to_owned(), Ok(())),
        (r#"{"type":"TOKEN","identitySource":"w","authorizationToken":"v"}"#.to_owned(), Ok(())),
        (r#"{"type":"REQUEST","identitySource":5}"#.to_owned(), malformed),
    ];
    for (input, expected) in &cases {
        assert!(agree(input), "declined {input}");
        assert_eq!(read(input), *expected, "{input}");
    }
    // Escaped values are left to the reference (an escape anywhere in the list: the reference decodes each
    // element), which reads them.
    for declined in [
        v2(r#"["v\u0041"]"#),
        v2(r#"["v","\u0041"]"#),
        v2(r#"["v","\ud800"]"#),
        v1(r#""v\/""#),
    ] {
        assert_eq!(Event::parse_fast(&declined, HEADER), None, "{declined}");
    }
    assert_eq!(read(&v2(r#"["v\u0041"]"#)), Ok(()));
    assert_eq!(
        read(&v2(r#"["v","\ud800"]"#)),
        malformed,
        "a lone surrogate, decoded"
    );
}
