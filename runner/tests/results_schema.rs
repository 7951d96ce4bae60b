//! `resources/results.schema.json` is generated from the results types and
//! must not drift from them. Regenerate with
//! `UPDATE_SCHEMA=1 cargo test -p runner --test results_schema`.

#[test]
fn committed_results_schema_matches_the_types() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../resources/results.schema.json");
    let generated = runner::results::json_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date: run `UPDATE_SCHEMA=1 cargo test -p runner --test results_schema`",
        path.display()
    );
    // Every documented figure carries its description into the schema.
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let level = &schema["$defs"]["LevelResult"]["properties"];
    for key in [
        "ttft_ms",
        "tpot_ms",
        "itl_ms",
        "e2e_ms",
        "queue_delay_ms",
        "throughput",
        "concurrency",
        "phases",
    ] {
        let d = level[key]["description"].as_str().unwrap_or("");
        assert!(!d.is_empty(), "{key} has no description in the schema");
    }
}
