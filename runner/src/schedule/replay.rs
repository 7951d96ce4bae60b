//! Trace files for `replay` phases: one request per JSONL line.
//!
//! ```json
//! {"offset_ms": 0, "input_len": 512, "output_len": 128}
//! {"offset_ms": 37.5, "prompt": "Summarise ...", "output_len": 64}
//! ```
//!
//! `offset_ms` (alias `timestamp_ms`) is when the request is sent, from the
//! phase start; `prompt` is sent as it is, else a prompt of `input_len`
//! (tokens with the scenario's tokenizer, chars without) is cut from the
//! corpus; `output_len` becomes `max_tokens`. Other keys are ignored. Lines
//! may come in any order; they are sent in offset order.

use serde_json::Value;

/// One trace line.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEntry {
    /// When to send, ns from the phase start (before the speed factor).
    pub offset_ns: u64,
    /// The prompt, when the trace carries it.
    pub prompt: Option<String>,
    /// Input length, when the trace gives it instead of a prompt.
    pub input_len: Option<u32>,
    /// Output length, as `max_tokens`.
    pub output_len: Option<u32>,
}

/// A bad trace line: its 1-based number and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceProblem {
    /// Line number, from 1.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

const SHAPE: &str = r#"each line needs `{"offset_ms": 0, "input_len": 200, "output_len": 100}` or `{"offset_ms": 0, "prompt": "..."}`"#;

/// Parses a whole trace: entries sorted by offset, or every bad line.
pub fn parse(text: &str) -> Result<Vec<TraceEntry>, Vec<TraceProblem>> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match entry(line) {
            Ok(e) => entries.push(e),
            Err(message) => problems.push(TraceProblem {
                line: n,
                message: format!("{message}; {SHAPE}"),
            }),
        }
    }
    if entries.is_empty() && problems.is_empty() {
        problems.push(TraceProblem {
            line: 1,
            message: format!("the trace has no requests; {SHAPE}"),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    entries.sort_by_key(|e| e.offset_ns);
    Ok(entries)
}

fn entry(line: &str) -> Result<TraceEntry, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let Value::Object(o) = v else {
        return Err("the line is not a JSON object".into());
    };
    let offset = o
        .get("offset_ms")
        .or_else(|| o.get("timestamp_ms"))
        .ok_or("no `offset_ms`")?;
    let offset = offset
        .as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0 && *x < 1e12)
        .ok_or_else(|| format!("`offset_ms` is {offset}, not a number of ms from 0"))?;
    let len = |key: &str| -> Result<Option<u32>, String> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|&n| n >= 1 && n <= u64::from(u32::MAX))
                .map(|n| Some(n as u32))
                .ok_or_else(|| format!("`{key}` is {v}, not a whole number from 1")),
        }
    };
    let prompt = match o.get("prompt") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(v) => return Err(format!("`prompt` is {v}, not a non-empty string")),
    };
    let input_len = len("input_len")?;
    if prompt.is_none() && input_len.is_none() {
        return Err("neither `prompt` nor `input_len` is given".into());
    }
    Ok(TraceEntry {
        offset_ns: (offset * 1e6).round() as u64,
        prompt,
        input_len,
        output_len: len("output_len")?,
    })
}

/// The send offsets of `entries` at `speed` (offsets divided by it).
pub fn offsets(entries: &[TraceEntry], speed: f64) -> Vec<u64> {
    entries
        .iter()
        .map(|e| (e.offset_ns as f64 / speed).round() as u64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorts_and_scales() {
        let t = "{\"offset_ms\": 1000, \"input_len\": 5, \"output_len\": 7}\n\n{\"timestamp_ms\": 12.5, \"prompt\": \"hi\"}\n";
        let e = parse(t).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].offset_ns, 12_500_000);
        assert_eq!(e[0].prompt.as_deref(), Some("hi"));
        assert_eq!(e[1].input_len, Some(5));
        assert_eq!(e[1].output_len, Some(7));
        assert_eq!(offsets(&e, 2.0), vec![6_250_000, 500_000_000]);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let t = "{\"offset_ms\": 0, \"input_len\": 5}\nnot json\n{\"input_len\": 3}\n{\"offset_ms\": -1, \"input_len\": 3}\n{\"offset_ms\": 5}\n";
        let p = parse(t).unwrap_err();
        let lines: Vec<u32> = p.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        assert!(p[0].message.contains("bad JSON"));
        assert!(p[1].message.contains("no `offset_ms`"));
        assert!(p[3].message.contains("neither `prompt` nor `input_len`"));
        assert!(parse("\n\n").is_err());
    }
}
