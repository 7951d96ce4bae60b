//! Scenario files and test sets, end to end: YAML text to a validated
//! `Scenario` or to every problem with its location and fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use runner::dataset::{self, Prompt};
use runner::scenario::{
    self, DatasetFormat, Diagnostics, Endpoint, Lang, LiveStyle, Overrides, PhaseKind, PluginRef,
    Scenario, Timeouts,
};

/// The user counts and duration of a scenario's one closed-loop phase.
fn levels(s: &Scenario) -> (Vec<u32>, Option<Duration>) {
    assert_eq!(s.load.phases.len(), 1, "{:?}", s.load.phases);
    match &s.load.phases[0].kind {
        PhaseKind::Users { levels, .. } => (levels.clone(), s.load.phases[0].duration),
        other => panic!("a users phase expected, got {other:?}"),
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenario")
}

fn resources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../resources")
}

/// Validates `text` as if read from a file in a fresh temporary folder that
/// also holds `prompts.txt`; returns the folder so paths can be compared.
fn check(
    text: &str,
    overrides: &Overrides,
) -> (tempfile::TempDir, Result<scenario::Scenario, Diagnostics>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prompts.txt"), "你好\n").unwrap();
    let source = dir.path().join("s.yaml");
    let result = scenario::from_str(text, &source, overrides);
    (dir, result)
}

fn errors(text: &str) -> Vec<String> {
    let (dir, result) = check(text, &Overrides::default());
    let diagnostics = result.expect_err("the scenario should be rejected");
    // Print paths relative to the temp folder so assertions stay short.
    let prefix = format!("{}/", dir.path().display());
    diagnostics
        .iter()
        .map(|d| d.to_string().replace(&prefix, ""))
        .collect()
}

const TARGET_AND_DATA: &str = "target: { mock: {} }\ndataset: { path: prompts.txt }\n";

#[test]
fn full_scenario() {
    let path = fixtures().join("full.yaml");
    let s = scenario::load(&path, &Overrides::default()).unwrap();
    let base = fixtures();
    assert_eq!(s.name, "full");
    assert_eq!(s.description, "every key set");
    assert_eq!(s.source.as_deref(), Some(path.as_path()));
    assert_eq!(
        s.target.endpoint,
        Endpoint::Url("http://127.0.0.1:30000".into())
    );
    assert_eq!(s.target.plugin, PluginRef::Builtin("openai-chat".into()));
    assert!(!s.target.stream);
    assert_eq!(
        serde_json::Value::Object(s.target.params.clone()),
        serde_json::json!({"model": "qwen", "temperature": 0.001, "top_p": 0.8, "stop": "<JFSTOP>", "n": [1, 2]})
    );
    assert_eq!(
        s.target.headers,
        vec![
            ("X-Trace".to_string(), "on".to_string()),
            ("Accept".to_string(), "text/event-stream".to_string())
        ]
    );
    assert!(s.target.secrets.is_empty());
    assert_eq!(
        s.target.timeouts,
        Timeouts {
            connect: Duration::from_secs(5),
            first_token: Duration::from_secs(90),
            idle: Duration::from_millis(1500),
            total: Duration::from_secs(120),
        }
    );
    assert_eq!(s.dataset.format, DatasetFormat::Lines);
    assert_eq!(
        s.dataset.path,
        base.join("../../../../resources/testset.txt")
    );
    assert_eq!(s.dataset.default_max_tokens, 300);
    assert_eq!(
        levels(&s),
        (vec![1, 16, 128], Some(Duration::from_secs(10)))
    );
    assert_eq!(s.load.pause, Duration::from_millis(500));
    assert_eq!(s.load.failure_backoff, Duration::from_millis(250));
    assert_eq!(s.output.work_dir, base.join("out"));
    assert_eq!(s.live.interval, Duration::from_secs(5));
    assert_eq!(s.live.lang, Lang::En);
}

#[test]
fn defaults() {
    let path = fixtures().join("minimal.yaml");
    let s = scenario::load(&path, &Overrides::default()).unwrap();
    assert_eq!(s.name, "benchmark");
    assert_eq!(s.description, "");
    assert_eq!(s.target.endpoint, Endpoint::Mock(Default::default()));
    assert_eq!(s.target.plugin, PluginRef::Builtin("openai-chat".into()));
    assert!(s.target.stream);
    assert!(s.target.params.is_empty() && s.target.headers.is_empty());
    assert_eq!(s.target.timeouts, Timeouts::default());
    // format: auto sniffs the ceval sample.
    assert_eq!(s.dataset.format, DatasetFormat::Ceval);
    assert_eq!(s.dataset.default_max_tokens, 512);
    let (users, duration) = levels(&s);
    assert_eq!(users, scenario::default_levels());
    assert_eq!(users.len(), 28);
    assert_eq!((users[0], users[27]), (1, 982));
    assert_eq!(duration, Some(Duration::from_secs(1800)));
    assert_eq!(s.load.pause, Duration::from_secs(10));
    assert_eq!(s.load.failure_backoff, Duration::from_secs(1));
    assert_eq!(s.output.work_dir, PathBuf::from("."));
    assert_eq!(s.live.interval, Duration::from_secs(30));
    assert_eq!(s.live.lang, Lang::Zh);
    // The original's line stays as it was, with the modern one under it.
    assert_eq!(s.live.style, LiveStyle::Both);
    assert!(!s.calibrate);
}

#[test]
fn live_style_and_calibrate() {
    for (style, want) in [
        ("original", LiveStyle::Original),
        ("modern", LiveStyle::Modern),
        ("both", LiveStyle::Both),
    ] {
        let text = format!("{TARGET_AND_DATA}live: {{ style: {style} }}\ncalibrate: true\n");
        let s = check(&text, &Overrides::default()).1.expect("valid");
        assert_eq!(s.live.style, want);
        assert!(s.calibrate);
    }
    let errs = errors(&format!("{TARGET_AND_DATA}live: {{ style: fancy }}\n"));
    assert!(
        errs[0].contains("unknown value `fancy` for `live.style`"),
        "{errs:?}"
    );
    let errs = errors(&format!("{TARGET_AND_DATA}calibrate: maybe\n"));
    assert!(errs[0].contains("`calibrate`"), "{errs:?}");
}

#[test]
fn three_mistakes_are_all_reported() {
    let path = fixtures().join("three-mistakes.yaml");
    let diagnostics = scenario::load(&path, &Overrides::default()).unwrap_err();
    let file = path.display().to_string();
    let shown: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(shown.len(), 3, "{diagnostics}");
    assert_eq!(
        shown[0],
        format!(
            "{file}:4:3: error: unknown key `timeout` in `target`\n  help: did you mean `timeouts`? \
             valid keys here: `headers`, `mock`, `params`, `plugin`, `stream`, `timeouts`, `url`"
        )
    );
    assert!(
        shown[1].starts_with(&format!(
            "{file}:6:9: error: test set `{}` does not exist\n  help: check the path",
            fixtures().join("no-such-prompts.txt").display()
        )),
        "{}",
        shown[1]
    );
    assert_eq!(
        shown[2],
        format!(
            "{file}:9:13: error: invalid duration `10 seconds` for `load.duration`\n  help: write a \
             number and a unit: `500ms`, `10s`, `1.5m`, `2h`; a bare number means seconds"
        )
    );
    // The whole report is the three blocks, separated by blank lines.
    assert_eq!(diagnostics.to_string(), shown.join("\n\n"));
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    let errs = errors("targte:\n  url: http://127.0.0.1:1\ndataset: { path: prompts.txt }\n");
    assert_eq!(
        errs[0],
        "s.yaml:1:1: error: unknown key `targte` at the top level\n  help: did you mean `target`? \
         valid keys here: `calibrate`, `dataset`, `description`, `live`, `load`, `name`, `output`, `slo`, `target`"
    );
    // With the target misspelled there is no target: reported too.
    assert!(
        errs[1].starts_with("s.yaml: error: no target given"),
        "{errs:?}"
    );
    let errs = errors(&format!(
        "{TARGET_AND_DATA}load: {{ levles: [1], pasue: 1s, zzz: 1 }}\n"
    ));
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[0].contains("unknown key `levles` in `load`\n  help: did you mean `levels`?"));
    assert!(errs[1].contains("did you mean `pause`?"));
    assert!(
        errs[2].contains("help: valid keys here: `drain`, `drain_timeout`, `duration`"),
        "{}",
        errs[2]
    );
    // A key at the wrong depth is pointed to where it belongs.
    let errs = errors(&format!("{TARGET_AND_DATA}params: {{ model: m }}\n"));
    assert_eq!(
        errs,
        vec![
            "s.yaml:3:1: error: unknown key `params` at the top level\n  help: `params` belongs in \
             `target`; valid keys here: `calibrate`, `dataset`, `description`, `live`, `load`, `name`, `output`, `slo`, `target`"
        ]
    );
    // Inside the mock config too (which `runner mock` shares and which denies
    // unknown keys itself): the key is pruned, so the later checks still run.
    let errs = errors(
        "target: { mock: { ttft: 5 } }\ndataset: { path: prompts.txt }\nload: { duration: 1 hour }\n",
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("s.yaml:1:19: error: unknown key `ttft` in `target.mock`"));
    assert!(errs[0].contains("did you mean `ttft_ms`?"));
    assert!(
        errs[1].starts_with("s.yaml:3:19: error: invalid duration `1 hour`"),
        "{}",
        errs[1]
    );
}

#[test]
fn wrong_types_and_values_are_reported_together() {
    let errs = errors(
        "target:\n  mock: {}\n  stream: maybe\ndataset: { path: prompts.txt, format: lnes }\n\
         load: { levels: [1, -2, x, 0] }\nlive: { lang: fr }\n",
    );
    assert_eq!(
        errs,
        vec![
            "s.yaml:3:11: error: `target.stream` must be true or false, found the string `maybe`\n  \
             help: Ask for streamed responses. Default: true.",
            "s.yaml:4:39: error: unknown value `lnes` for `dataset.format`\n  help: did you \
             mean `lines`? valid values: `auto`, `lines`, `ceval`, `jsonl`, `sharegpt`, `conversations`, `synthetic`",
            "s.yaml:5:21: error: `load.levels[1]` is out of range: `-2`\n  help: write a whole \
             number from 0 to 4294967295",
            "s.yaml:5:25: error: `load.levels[2]` must be a whole number, found the string `x`\n  \
             help: write a whole number",
            "s.yaml:5:28: error: a level of 0 users in `load.levels`\n  help: every level needs at \
             least 1 user",
            "s.yaml:6:15: error: unknown value `fr` for `live.lang`\n  help: valid values: \
             `zh`, `en`",
        ]
    );
}

#[test]
fn bad_durations() {
    for (value, message) in [
        (
            "10 seconds",
            "invalid duration `10 seconds` for `load.duration`",
        ),
        ("5d", "invalid duration `5d` for `load.duration`"),
        ("-1s", "invalid duration `-1s` for `load.duration`"),
        ("1..5s", "invalid duration `1..5s` for `load.duration`"),
        (
            "[1]",
            "`load.duration` must be text or a number, found a list",
        ),
        ("0s", "`load.duration` must be more than 0"),
        ("0", "`load.duration` must be more than 0"),
    ] {
        let errs = errors(&format!("{TARGET_AND_DATA}load:\n  duration: {value}\n"));
        assert_eq!(errs.len(), 1, "{value}: {errs:?}");
        assert!(
            errs[0].starts_with(&format!("s.yaml:4:13: error: {message}\n  help: ")),
            "{value}: {}",
            errs[0]
        );
    }
    let errs = errors(&format!("{TARGET_AND_DATA}live: {{ interval: 0ms }}\n"));
    assert!(
        errs[0].contains("`live.interval` must be more than 0"),
        "{errs:?}"
    );
}

#[test]
fn zero_pause_and_bare_seconds_are_fine() {
    let (_dir, result) = check(
        &format!("{TARGET_AND_DATA}load: {{ pause: 0s, failure_backoff: 0, duration: 2.5 }}\n"),
        &Overrides::default(),
    );
    let s = result.unwrap();
    assert_eq!(s.load.pause, Duration::ZERO);
    assert_eq!(s.load.failure_backoff, Duration::ZERO);
    assert_eq!(levels(&s).1, Some(Duration::from_millis(2500)));
}

/// One variable name per test binary run, so no other test can see it.
const TOKEN_VAR: &str = "RUNNER_SCENARIO_TEST_TOKEN_7F3A91";
const MISSING_VAR: &str = "RUNNER_SCENARIO_TEST_UNSET_7F3A91";

#[test]
fn env_interpolation() {
    // SAFETY: no other test in this binary sets or reads these variables,
    // and no code in this binary reads the environment outside std's lock.
    unsafe {
        std::env::set_var(TOKEN_VAR, "tok-123");
        std::env::remove_var(MISSING_VAR);
    }
    let text = format!(
        "target:\n  url: http://127.0.0.1:1/${{env:{TOKEN_VAR}}}\n  headers:\n    \
         Authorization: \"Bearer ${{env:{TOKEN_VAR}}}\"\n  params:\n    api_key: \
         \"${{env:{TOKEN_VAR}}}\"\n    nested: [\"x-${{env:{TOKEN_VAR}}}\", 3]\n\
         dataset: {{ path: prompts.txt }}\n"
    );
    let (_dir, result) = check(&text, &Overrides::default());
    let s = result.unwrap();
    assert_eq!(
        s.target.endpoint,
        Endpoint::Url("http://127.0.0.1:1/tok-123".into())
    );
    assert_eq!(
        s.target.headers,
        vec![("Authorization".to_string(), "Bearer tok-123".to_string())]
    );
    assert_eq!(s.target.params["api_key"], "tok-123");
    assert_eq!(
        s.target.params["nested"],
        serde_json::json!(["x-tok-123", 3])
    );
    assert_eq!(s.target.secrets, vec!["tok-123".to_string()]);

    let text = format!(
        "target:\n  url: http://127.0.0.1:1\n  headers:\n    Authorization: \"Bearer \
         ${{env:{MISSING_VAR}}}\"\n  params: {{ key: \"${{env:{MISSING_VAR}}}\" }}\n\
         dataset: {{ path: prompts.txt }}\n"
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with(&format!(
        "s.yaml:4:20: error: environment variable `{MISSING_VAR}` is not set\n  help: set it"
    )));
    assert!(
        errs[1].starts_with("s.yaml:5:18: error: environment variable"),
        "{}",
        errs[1]
    );
}

#[test]
fn overrides_replace_file_values() {
    let dir = tempfile::tempdir().unwrap();
    let ceval = dir.path().join("chat.txt");
    std::fs::write(&ceval, "8| [{\"role\": \"user\", \"content\": \"hi\"}]\n").unwrap();
    let overrides = Overrides {
        name: Some("flagged".into()),
        description: Some("from flags".into()),
        work_dir: Some(dir.path().join("work")),
        test_set: Some(ceval.clone()),
        test_duration: Some(7),
        test_runs: Some(vec![3, 5]),
        url: Some("https://example.test:8443/".into()),
        lang: Some(Lang::En),
    };
    let path = fixtures().join("full.yaml");
    let s = scenario::load(&path, &overrides).unwrap();
    assert_eq!(s.name, "flagged");
    assert_eq!(s.description, "from flags");
    assert_eq!(s.output.work_dir, dir.path().join("work"));
    assert_eq!(s.dataset.path, ceval);
    assert_eq!(s.dataset.format, DatasetFormat::Ceval);
    assert_eq!(s.dataset.default_max_tokens, 300, "kept from the file");
    assert_eq!(levels(&s), (vec![3, 5], Some(Duration::from_secs(7))));
    assert_eq!(
        s.target.endpoint,
        Endpoint::Url("https://example.test:8443".into())
    );
    assert!(!s.target.stream, "the rest of the target is kept");
    assert_eq!(s.live.lang, Lang::En);

    // --url drops the mock.
    let minimal = fixtures().join("minimal.yaml");
    let url_only = Overrides {
        url: Some("http://127.0.0.1:9".into()),
        ..Overrides::default()
    };
    let s = scenario::load(&minimal, &url_only).unwrap();
    assert_eq!(
        s.target.endpoint,
        Endpoint::Url("http://127.0.0.1:9".into())
    );
}

#[test]
fn bad_flag_values_are_reported_with_the_flag() {
    let overrides = Overrides {
        name: Some("a/b".into()),
        test_set: Some(PathBuf::from("/nonexistent/runner-test-set.txt")),
        test_duration: Some(0),
        test_runs: Some(vec![1, 0]),
        url: Some("localhost:30000".into()),
        ..Overrides::default()
    };
    let diagnostics = scenario::load(&fixtures().join("full.yaml"), &overrides).unwrap_err();
    let shown: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    let starts: Vec<&str> = shown
        .iter()
        .map(|s| s.split(": error:").next().unwrap_or_default())
        .collect();
    assert_eq!(
        starts,
        vec![
            "--name",
            "--url",
            "--test-set",
            "--test-duration",
            "--test-runs"
        ],
        "{diagnostics}"
    );
    assert!(shown[2].contains("test set `/nonexistent/runner-test-set.txt` does not exist"));
    assert!(shown[2].contains("the current directory"));
}

#[test]
fn flags_alone() {
    let overrides = Overrides {
        url: Some("http://127.0.0.1:30000".into()),
        test_set: Some(resources().join("testset.txt")),
        test_runs: Some(vec![2]),
        ..Overrides::default()
    };
    let s = scenario::from_overrides(&overrides).unwrap();
    assert_eq!(s.source, None);
    assert_eq!(s.dataset.format, DatasetFormat::Lines);
    assert_eq!(levels(&s).0, vec![2]);
    let diagnostics = scenario::from_overrides(&Overrides::default()).unwrap_err();
    let shown = diagnostics.to_string();
    assert!(shown.contains("--url: error: no target given"), "{shown}");
    assert!(
        shown.contains("--test-set: error: no test set given"),
        "{shown}"
    );
}

#[test]
fn target_rules() {
    let errs = errors("target: { url: 'http://a', mock: {} }\ndataset: { path: prompts.txt }\n");
    assert!(
        errs[0].starts_with("s.yaml:1:34: error: `target` has both `url` and `mock`"),
        "{errs:?}"
    );
    let errs = errors("target: { stream: true }\ndataset: { path: prompts.txt }\n");
    assert!(
        errs[0].starts_with("s.yaml:1:9: error: `target` has neither `url` nor `mock`"),
        "{errs:?}"
    );
    let errs = errors(
        "target:\n  url: 127.0.0.1:30000\n  plugin: plugins/missing.wasm\n  headers: { 'bad name': x }\n\
         dataset: { path: prompts.txt }\n",
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[0].starts_with("s.yaml:2:8: error: `127.0.0.1:30000` is not an http(s) URL"));
    assert!(
        errs[1].starts_with("s.yaml:3:11: error: plugin `"),
        "{}",
        errs[1]
    );
    assert!(errs[2].starts_with("s.yaml:4:14: error: `bad name` is not a valid HTTP header name"));
    let (dir, result) = check(
        "target: { mock: { ttft_ms: 5, output_tokens: 8 }, plugin: my.wasm }\ndataset: { path: prompts.txt }\n",
        &Overrides::default(),
    );
    let errs = result.unwrap_err().to_string();
    assert!(
        errs.contains("plugin `") && errs.contains("my.wasm` does not exist"),
        "{errs}"
    );
    std::fs::write(dir.path().join("my.wasm"), b"\0asm").unwrap();
    let s = scenario::from_str(
        "target: { mock: { ttft_ms: 5, output_tokens: 8 }, plugin: my.wasm }\ndataset: { path: prompts.txt }\n",
        &dir.path().join("s.yaml"),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.target.plugin, PluginRef::Path(dir.path().join("my.wasm")));
    match s.target.endpoint {
        Endpoint::Mock(mock) => assert_eq!((mock.ttft_ms, mock.output_tokens), (5.0, Some(8))),
        other => panic!("expected the mock, got {other:?}"),
    }
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let errs = errors("name: demo\ntarget: { url: [1, 2 }\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("s.yaml:2:"), "{}", errs[0]);
    assert!(errs[0].contains("error: invalid YAML"), "{}", errs[0]);
    assert!(
        errs[0].contains("\n  help: fix the YAML syntax"),
        "{}",
        errs[0]
    );
    let errs = errors("name: a\nname: b\n");
    assert_eq!(
        errs,
        vec![
            "s.yaml:2:1: error: the key `name` appears twice in this mapping\n  help: keep one of the two entries"
        ]
    );
    let errs = errors("- just\n- a list\n");
    assert!(
        errs[0].starts_with("s.yaml:1:1: error: the scenario must be a mapping"),
        "{errs:?}"
    );
}

#[test]
fn unreadable_scenario_file() {
    let missing = Path::new("/nonexistent/runner/scenario.yaml");
    let diagnostics = scenario::load(missing, &Overrides::default()).unwrap_err();
    assert!(
        diagnostics
            .to_string()
            .starts_with("/nonexistent/runner/scenario.yaml: error: cannot read the scenario")
    );
}

#[test]
fn schema_file_matches_the_types() {
    let path = resources().join("scenario.schema.json");
    let generated = scenario::json_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "resources/scenario.schema.json is out of date: run `UPDATE_SCHEMA=1 cargo test -p runner --test scenario_validation`"
    );
}

#[test]
fn shipped_test_sets_load() {
    for (file, format, at_least) in [
        ("testset.txt", DatasetFormat::Lines, 60),
        ("ceval-sample.txt", DatasetFormat::Ceval, 20),
    ] {
        let path = resources().join(file);
        assert_eq!(dataset::detect_format(&path).unwrap(), format);
        let spec = scenario::DatasetSpec {
            format,
            path,
            default_max_tokens: 512,
            ..Default::default()
        };
        let data = dataset::load(&spec).unwrap();
        assert!(data.items.len() >= at_least, "{file}: {}", data.items.len());
        if format == DatasetFormat::Ceval {
            for item in &data.items {
                let Prompt::Chat(messages) = &item.prompt else {
                    panic!("ceval items are chats");
                };
                assert_eq!(messages[0].role, "system");
            }
        }
    }
}
