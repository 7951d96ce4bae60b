//! The scenario's `params`: a JSON object whose top-level keys are set over
//! the body a plugin builds, so a scenario can change or add any field
//! (`model`, `temperature`, ...). A `null` param removes the key.

use alloc::format;
use alloc::string::{String, ToString};

use serde_json::{Map, Value};

use crate::event::preview;

/// Parses the scenario's `params`; blank counts as `{}`. An `Err` names the
/// problem: not JSON, or not an object (with the fix).
pub fn parse_params(params_json: &str) -> Result<Map<String, Value>, String> {
    if params_json.trim().is_empty() {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_str(params_json).map_err(|e| {
        format!(
            "params is not valid JSON ({e}): {}",
            preview(params_json, 100)
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => {
            let kind = match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            };
            Err(format!(
                "params must be a JSON object of body fields (e.g. {{\"model\": \"m\", \"temperature\": 0}}), got {kind}: {}",
                preview(params_json, 100)
            ))
        }
    }
}

/// Sets every key of `params` over `body`; a `null` value removes the key.
pub fn apply_params(body: &mut Map<String, Value>, params: Map<String, Value>) {
    for (key, value) in params {
        if value.is_null() {
            body.remove(&key);
        } else {
            body.insert(key, value);
        }
    }
}

/// Removes `key` from `params` and returns it as a string: for params that
/// steer the request itself (a path's model name) rather than the body. An
/// `Err` when it is there but not a string.
pub fn take_string(params: &mut Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match params.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "params.{key} must be a string, got {}",
            preview(&other.to_string(), 100)
        )),
    }
}

/// Serializes a body built by a plugin.
pub fn to_body(body: &Map<String, Value>) -> Result<alloc::vec::Vec<u8>, String> {
    serde_json::to_vec(body).map_err(|e| format!("could not encode the request body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_merge_and_null_removes() {
        let mut body = Map::new();
        body.insert("a".into(), json!(1));
        body.insert("b".into(), json!(2));
        let params = parse_params(r#"{"a": 5, "b": null, "c": "x"}"#).unwrap_or_default();
        apply_params(&mut body, params);
        assert_eq!(Value::Object(body), json!({"a": 5, "c": "x"}));
    }

    #[test]
    fn bad_params_are_rejected_with_the_fix() {
        assert_eq!(parse_params("  "), Ok(Map::new()));
        let err = parse_params("[1]").err().unwrap_or_default();
        assert!(err.contains("got an array: [1]"), "{err}");
        let err = parse_params("{x}").err().unwrap_or_default();
        assert!(err.starts_with("params is not valid JSON"), "{err}");
    }

    #[test]
    fn take_string_removes_the_key() {
        let mut params = parse_params(r#"{"model": "m", "n": 1}"#).unwrap_or_default();
        assert_eq!(take_string(&mut params, "model"), Ok(Some("m".into())));
        assert!(!params.contains_key("model"));
        assert_eq!(take_string(&mut params, "model"), Ok(None));
        let err = take_string(&mut params, "n").err().unwrap_or_default();
        assert_eq!(err, "params.n must be a string, got 1");
    }
}
