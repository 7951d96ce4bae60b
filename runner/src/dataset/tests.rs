//! Loading test sets from files: both formats, prefixes, every error kind
//! and the cap on listed lines.

use std::path::PathBuf;

use super::*;
use crate::scenario::DatasetSpec;

fn load_text(
    text: &[u8],
    format: DatasetFormat,
) -> (tempfile::TempDir, Result<Dataset, Diagnostics>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.txt");
    std::fs::write(&path, text).unwrap();
    let spec = DatasetSpec {
        format,
        path,
        default_max_tokens: 100,
        ..DatasetSpec::default()
    };
    (dir, load(&spec))
}

#[test]
fn dataset_formats_and_prefixes() {
    let (_dir, data) = load_text(
        "\u{feff}first\r\n\n  \n42|second | with bar\r\nthird\n".as_bytes(),
        DatasetFormat::Lines,
    );
    let data = data.unwrap();
    let got: Vec<(Prompt, u32)> = data
        .items
        .into_iter()
        .map(|i| (i.prompt, i.max_tokens))
        .collect();
    assert_eq!(
        got,
        vec![
            (Prompt::Text("first".into()), 100),
            (Prompt::Text("second | with bar".into()), 42),
            (Prompt::Text("third".into()), 100),
        ]
    );
    let (_dir, data) = load_text(
        b"64| [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"q\"}]\n",
        DatasetFormat::Ceval,
    );
    let item = &data.unwrap().items[0];
    assert_eq!(item.max_tokens, 64);
    assert_eq!(
        item.prompt,
        Prompt::Chat(vec![
            ChatMessage {
                role: "system".into(),
                content: "s".into()
            },
            ChatMessage {
                role: "user".into(),
                content: "q".into()
            },
        ])
    );
}

#[test]
fn dataset_errors_list_every_bad_line() {
    let text = b"ok\n0|zero\n5| [{\"role\": \"user\"}]\n\xff\xfe\n7|   \n";
    let (dir, result) = load_text(text, DatasetFormat::Lines);
    let file = dir.path().join("set.txt").display().to_string();
    let shown: Vec<String> = result.unwrap_err().iter().map(|d| d.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            format!(
                "{file}:2: error: the `MAX_TOKENS|` prefix is 0\n  help: ask for at least 1 token, e.g. `512|`"
            ),
            format!(
                "{file}:4: error: the line is not valid UTF-8\n  help: save the test set as UTF-8; a GBK file converts with `iconv -f GB18030 -t UTF-8 in.txt > out.txt`"
            ),
            format!(
                "{file}:5: error: the prompt after `7|` is empty\n  help: write the prompt after the `MAX_TOKENS|` prefix, or delete the line"
            ),
        ]
    );
    let (_dir, result) = load_text(
        b"5| [{\"role\": \"user\"}]\n5| [oops\n5| [{\"role\": \"user\", \"content\": \"fine\"}]\n",
        DatasetFormat::Ceval,
    );
    let shown = result.unwrap_err().to_string();
    assert!(
        shown.contains("set.txt:1: error: message 1 has no `content`"),
        "{shown}"
    );
    assert!(
        shown.contains("set.txt:2: error: bad JSON after `5|`"),
        "{shown}"
    );
    assert!(!shown.contains("set.txt:3"), "{shown}");
}

#[test]
fn dataset_caps_the_list_at_twenty() {
    let text = "0|x\n".repeat(25);
    let (_dir, result) = load_text(text.as_bytes(), DatasetFormat::Lines);
    let diagnostics = result.unwrap_err();
    assert_eq!(diagnostics.len(), 21);
    assert_eq!(diagnostics.0[19].line(), Some(20));
    assert!(
        diagnostics.0[20]
            .to_string()
            .contains("error: and 5 more bad lines")
    );
}

#[test]
fn dataset_missing_and_empty_files() {
    let spec = DatasetSpec {
        format: DatasetFormat::Lines,
        path: PathBuf::from("/nonexistent/runner/set.txt"),
        default_max_tokens: 1,
        ..DatasetSpec::default()
    };
    let shown = load(&spec).unwrap_err().to_string();
    assert!(
        shown.starts_with("/nonexistent/runner/set.txt: error: cannot read the test set"),
        "{shown}"
    );
    for format in [DatasetFormat::Lines, DatasetFormat::Ceval] {
        let (_dir, result) = load_text(b"\n  \n\n", format);
        let shown = result.unwrap_err().to_string();
        assert!(
            shown.contains("set.txt: error: the test set has no prompts\n  help: write"),
            "{shown}"
        );
    }
}

#[test]
fn detects_from_the_first_non_empty_line() {
    let dir = tempfile::tempdir().unwrap();
    let ceval = dir.path().join("c.txt");
    std::fs::write(
        &ceval,
        "\n  \n12| [{\"role\":\"user\",\"content\":\"x\"}]\n",
    )
    .unwrap();
    assert_eq!(detect_format(&ceval).unwrap(), DatasetFormat::Ceval);
    let lines = dir.path().join("l.txt");
    std::fs::write(&lines, "hello\n12| [1]\n").unwrap();
    assert_eq!(detect_format(&lines).unwrap(), DatasetFormat::Lines);
    let empty = dir.path().join("e.txt");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(detect_format(&empty).unwrap(), DatasetFormat::Lines);
    assert!(detect_format(&dir.path().join("missing.txt")).is_err());
}
