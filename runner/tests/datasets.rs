//! Test sets through the scenario: each format loads from a file named in a
//! scenario (or detected), sampling filters and orders work, and every kind
//! of bad input is reported with its file, line and fix.

use std::path::{Path, PathBuf};

use runner::dataset::{self, Dataset, LengthUnit, Prompt};
use runner::scenario::{self, DatasetFormat, Diagnostics, Overrides, SampleOrder};

fn resources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../resources")
}

/// Writes `files` and a scenario with `dataset` as its dataset section into a
/// temp folder, then validates the scenario and loads its dataset.
fn load_with(
    dataset: &str,
    files: &[(&str, &[u8])],
) -> (tempfile::TempDir, Result<Dataset, Diagnostics>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let path = dir.path().join("s.yaml");
    let yaml = format!("target: {{ mock: {{}} }}\ndataset:\n{dataset}");
    std::fs::write(&path, yaml).unwrap();
    let result =
        scenario::load(&path, &Overrides::default()).and_then(|s| dataset::load(&s.dataset));
    (dir, result)
}

fn ok(dataset: &str, files: &[(&str, &[u8])]) -> Dataset {
    let (_dir, result) = load_with(dataset, files);
    result.unwrap_or_else(|d| panic!("{d}"))
}

fn err(dataset: &str, files: &[(&str, &[u8])]) -> String {
    let (dir, result) = load_with(dataset, files);
    let shown = result.expect_err("the dataset is refused").to_string();
    shown.replace(&format!("{}/", dir.path().display()), "")
}

fn texts(data: &Dataset) -> Vec<String> {
    data.items
        .iter()
        .map(|i| match &i.prompt {
            Prompt::Text(t) => t.clone(),
            Prompt::Chat(m) => m
                .iter()
                .map(|m| format!("{}:{}", m.role, m.content))
                .collect::<Vec<_>>()
                .join("|"),
        })
        .collect()
}

#[test]
fn shipped_sets_load_with_detected_formats() {
    for (file, format, at_least) in [
        ("testset.txt", DatasetFormat::Lines, 200),
        ("ceval-sample.txt", DatasetFormat::Ceval, 20),
        (
            "conversations-sample.jsonl",
            DatasetFormat::Conversations,
            15,
        ),
    ] {
        let over = Overrides {
            test_set: Some(resources().join(file)),
            url: Some("http://127.0.0.1:9".into()),
            ..Overrides::default()
        };
        let sc = scenario::from_overrides(&over).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(sc.dataset.format, format, "{file}");
        let data = dataset::load(&sc.dataset).unwrap_or_else(|d| panic!("{d}"));
        assert!(data.items.len() >= at_least, "{file}: {}", data.items.len());
        assert_eq!(data.unit, LengthUnit::Chars);
        assert!(data.items.iter().all(|i| i.input_len > 0));
    }
    // The test set mixes Chinese and English, and some lines carry a prefix.
    let data = ok(
        "  path: testset.txt\n",
        &[(
            "testset.txt",
            &std::fs::read(resources().join("testset.txt")).unwrap(),
        )],
    );
    let t = texts(&data);
    assert!(
        t.iter()
            .filter(|p| p.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
            .count()
            >= 80
    );
    assert!(t.iter().filter(|p| p.is_ascii()).count() >= 80);
    assert!(data.items.iter().filter(|i| i.max_tokens != 512).count() >= 20);
}

#[test]
fn jsonl_with_a_field_map() {
    let lines = br#"{"q": {"text": "first"}, "meta": {"out": 40}, "noise": [1, 2, {"x": null}]}
{"q": {"text": "second"}, "meta": {"out": 8}, "limit": 99}

{"q": {"text": "third"}, "meta": {"out": 16}}
"#;
    let data = ok(
        "  format: jsonl\n  path: set.jsonl\n  fields: { prompt: q.text, output_len: meta.out, max_tokens: limit }\n",
        &[("set.jsonl", lines)],
    );
    assert_eq!(texts(&data), ["first", "second", "third"]);
    let got: Vec<(u32, Option<u32>)> = data
        .items
        .iter()
        .map(|i| (i.max_tokens, i.output_len))
        .collect();
    assert_eq!(got, [(40, Some(40)), (99, Some(8)), (16, Some(16))]);
    assert_eq!(data.format, DatasetFormat::Jsonl);
    // Detected from the first line, with the default field names.
    let data = ok(
        "  path: set.jsonl\n",
        &[("set.jsonl", b"{\"prompt\": \"hi\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"yo\"}], \"max_tokens\": 3}\n")],
    );
    assert_eq!(data.format, DatasetFormat::Jsonl);
    assert_eq!(texts(&data), ["hi", "user:yo"]);
    assert_eq!(data.items[1].max_tokens, 3);
}

const SHAREGPT: &[u8] = br#"[
  {"id": "a", "conversations": [
    {"from": "human", "value": "q1"},
    {"from": "gpt", "value": "reply"},
    {"from": "human", "value": "q2"}]},
  {"id": "b", "conversations": [{"from": "system", "value": "sys"}, {"from": "human", "value": "only"}]}
]
"#;

#[test]
fn sharegpt_first_turn_or_sessions() {
    let data = ok(
        "  format: sharegpt\n  path: sg.json\n",
        &[("sg.json", SHAREGPT)],
    );
    assert_eq!(texts(&data), ["q1", "system:sys|user:only"]);
    assert_eq!(data.items[0].output_len, Some(5));
    assert!(data.sessions.iter().all(|s| s.turns.len() == 1));
    let data = ok("  path: sg.json\n  turns: all\n", &[("sg.json", SHAREGPT)]);
    assert_eq!(
        data.format,
        DatasetFormat::Sharegpt,
        "detected from the lone `[`"
    );
    let users: Vec<Vec<&str>> = data
        .sessions
        .iter()
        .map(|s| s.turns.iter().map(|t| t.user.as_str()).collect())
        .collect();
    assert_eq!(users, [vec!["q1", "q2"], vec!["only"]]);
    assert_eq!(data.sessions[1].system.as_deref(), Some("sys"));
    // One entry per line works too.
    let data = ok(
        "  format: sharegpt\n  path: sg.jsonl\n",
        &[(
            "sg.jsonl",
            b"{\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}]}\n",
        )],
    );
    assert_eq!(texts(&data), ["x"]);
}

#[test]
fn conversations_sessions() {
    let sample = std::fs::read(resources().join("conversations-sample.jsonl")).unwrap();
    let data = ok(
        "  format: conversations\n  path: c.jsonl\n",
        &[("c.jsonl", &sample)],
    );
    assert_eq!(data.sessions.len(), data.items.len());
    assert!(data.sessions.iter().filter(|s| s.turns.len() >= 3).count() >= 8);
    assert!(data.sessions.iter().any(|s| s.turns.len() == 1));
    let first = &data.sessions[0];
    assert_eq!(
        first.system.as_deref(),
        Some("你是一名耐心的旅行顾问，回答简洁具体。")
    );
    assert_eq!(
        first.turns[1].think,
        Some(std::time::Duration::from_secs(6))
    );
    assert_eq!(
        first.turns[2].think,
        Some(std::time::Duration::from_millis(4500))
    );
    assert_eq!(first.turns[0].max_tokens, 256);
    // The single-turn view is the system prompt and the first turn.
    assert_eq!(
        texts(&data)[0],
        format!(
            "system:{}|user:{}",
            first.system.as_deref().unwrap(),
            first.turns[0].user
        )
    );
    // Filters keep sessions and items together.
    let data = ok(
        "  path: c.jsonl\n  sampling: { limit: 3 }\n",
        &[("c.jsonl", &sample)],
    );
    assert_eq!((data.items.len(), data.sessions.len()), (3, 3));
}

#[test]
fn sampling_filters_limit_and_order() {
    let set = b"a\nbbb\ncc\ndddd\neeeee\n";
    let data = ok(
        "  path: set.txt\n  sampling: { min_input: 2, max_input: 4, order: sequential }\n",
        &[("set.txt", set)],
    );
    assert_eq!(texts(&data), ["bbb", "cc", "dddd"]);
    assert_eq!(data.read, 5);
    let mut a = data.sampler(1, 0);
    let mut b = data.sampler(2, 1);
    assert_eq!([a.next(), b.next(), a.next(), b.next()], [0, 1, 2, 0]);
    let data = ok(
        "  path: set.txt\n  sampling: { limit: 2, order: shuffle }\n  seed: 3\n",
        &[("set.txt", set)],
    );
    assert_eq!(texts(&data), ["a", "bbb"]);
    assert_eq!(data.order(), SampleOrder::Shuffle);
    let data = ok("  path: set.txt\n", &[("set.txt", set)]);
    assert_eq!(
        data.order(),
        SampleOrder::Random,
        "the original's way is the default"
    );
    let shown = err(
        "  path: set.txt\n  sampling: { min_input: 50 }\n",
        &[("set.txt", set)],
    );
    assert_eq!(
        shown,
        "set.txt: error: no prompt of the 5 read passes `sampling.min_input` / `max_input` (chars)\n  help: widen the input-length filters, or remove them"
    );
}

#[test]
fn every_bad_line_is_listed_with_its_fix() {
    let shown = err(
        "  format: jsonl\n  path: bad.jsonl\n",
        &[(
            "bad.jsonl",
            b"{\"prompt\": \"ok\"}\n{\"prompt\": \n[1]\n{\"text\": \"x\"}\n\xff\n",
        )],
    );
    let lines: Vec<&str> = shown.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(
        lines,
        [
            "bad.jsonl:2: error: bad JSON: EOF while parsing a value at line 1 column 11",
            "bad.jsonl:3: error: the line is not a JSON object",
            "bad.jsonl:4: error: the line has no `prompt`",
            "bad.jsonl:5: error: the line is not valid UTF-8",
        ]
    );
    assert!(
        shown.contains("help: each line needs the prompt"),
        "{shown}"
    );
    let many = "{}\n".repeat(30);
    let shown = err(
        "  format: jsonl\n  path: many.jsonl\n",
        &[("many.jsonl", many.as_bytes())],
    );
    assert_eq!(shown.matches("error:").count(), 21);
    assert!(
        shown.contains("many.jsonl: error: and 10 more bad lines"),
        "{shown}"
    );
}

#[test]
fn whole_file_problems() {
    assert_eq!(
        err("  path: empty.txt\n", &[("empty.txt", b"")]),
        "empty.txt: error: the test set is empty\n  help: write at least one prompt, or point `dataset.path` at another file"
    );
    assert!(
        err(
            "  path: set.bin\n",
            &[("set.bin", b"\x1f\x8b\x08\x00\x00\x00binary")]
        )
        .starts_with("set.bin: error: the test set looks like a binary file (it holds NUL bytes)")
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("hi\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    assert!(
        err("  path: u16.txt\n", &[("u16.txt", &utf16)])
            .starts_with("u16.txt: error: the test set is UTF-16 text; it must be UTF-8\n  help: convert it, e.g. `iconv")
    );
    // GBK bytes are not UTF-8: every such line is named, with the fix.
    let gbk: &[u8] = b"\xc4\xe3\xba\xc3\nhello\n\xca\xc0\xbd\xe7\n";
    let shown = err("  path: gbk.txt\n", &[("gbk.txt", gbk)]);
    assert!(shown.starts_with("gbk.txt:1: error: the line is not valid UTF-8\n  help: save the test set as UTF-8; a GBK file converts with `iconv -f GB18030"), "{shown}");
    assert!(shown.contains("gbk.txt:3: error"), "{shown}");
    // A missing file is caught while the scenario is checked, at its key.
    let shown = err("  path: nope.txt\n", &[]);
    assert!(
        shown.starts_with("s.yaml:3:9: error: test set `"),
        "{shown}"
    );
    assert!(shown.contains("nope.txt` does not exist"), "{shown}");
}

#[test]
fn a_conversation_without_a_user_turn() {
    let shown = err(
        "  path: c.jsonl\n",
        &[(
            "c.jsonl",
            b"{\"turns\": [\"fine\"]}\n{\"system\": \"s\", \"turns\": []}\n{\"turns\": [\"ok\", {\"think_s\": 2}]}\n",
        )],
    );
    assert_eq!(
        shown,
        "c.jsonl:2: error: the conversation has no user turn\n  help: give at least one user turn in `turns`, or delete the line\n\n\
         c.jsonl:3: error: turn 2 has no `user` text\n  help: each turn is the user's text, or `{\"user\": \"...\"}` with optional `max_tokens` and `think_s`"
    );
    let shown = err(
        "  format: sharegpt\n  path: sg.json\n",
        &[("sg.json", b"[\n{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}]},\n{\"conversations\": [{\"from\": \"gpt\", \"value\": \"b\"}]}\n]\n")],
    );
    assert!(
        shown.starts_with("sg.json:3: error: the conversation has no user turn"),
        "{shown}"
    );
}

#[test]
fn keys_of_another_format_are_flagged() {
    let shown = err(
        "  path: set.txt\n  fields: { prompt: q }\n  turns: all\n",
        &[("set.txt", b"hello\n")],
    );
    assert_eq!(
        shown,
        "s.yaml:4:11: error: `dataset.fields` is only used by `jsonl`, and this test set is `lines`\n  \
         help: remove `fields`, or set `format: jsonl` if the file holds one JSON object per line\n\n\
         s.yaml:5:10: error: `dataset.turns` is only used by `sharegpt`, and this test set is `lines`\n  \
         help: remove `turns`; `conversations` files always keep every turn"
    );
    let shown = err(
        "  path: set.txt\n  synthetic: { count: 3 }\n  fields: { prompt: \"a..b\" }\n",
        &[("set.txt", b"{\"a\": 1}\n")],
    );
    assert!(
        shown.contains(
            "s.yaml:4:14: error: `dataset.synthetic` is only used by `format: synthetic`"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("error: `fields.prompt` path `a..b` has an empty part"),
        "{shown}"
    );
}
