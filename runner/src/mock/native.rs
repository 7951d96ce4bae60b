//! The mock's non-OpenAI APIs, so the TGI, Ollama and Anthropic plugins have
//! a server to run against:
//!
//! - TGI: `POST /generate_stream` (SSE) and `POST /generate`; `inputs` and
//!   `parameters.max_new_tokens`;
//! - Ollama: `POST /api/chat` (`messages`) and `POST /api/generate`
//!   (`prompt`), NDJSON unless `"stream": false`; `options.num_predict`;
//! - Anthropic: `POST /v1/messages`, typed SSE events when `"stream": true`;
//!   `messages`, `system` and the required `max_tokens`;
//! - SGLang: `POST /generate` with `text` (rather than TGI's `inputs`) and
//!   `sampling_params.max_new_tokens`; SSE of cumulative text when
//!   `"stream": true`, ending with `data: [DONE]`.
//!
//! They share the OpenAI routes' machinery: the same output plan, seeded
//! text and timing schedule, load model (decode slots and the load-dependent
//! gap), and [`TokenStream`] for the timed body; only the request fields and
//! the bytes differ ([`super::native_frames`]). Faults are injected into the
//! OpenAI routes only.
//! Prompt tokens are estimated as for OpenAI: `ceil(chars / 2)`, at least 1.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::native_frames::{NativeWriter, whole_body};
use super::request::{self, BadRequest, DEFAULT_MODEL};
use super::server::{Shared, wait_whole};
use super::stream::{TokenStream, shutdown_signal};
use super::text::TokenPicker;

/// Which native API (and endpoint) a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// TGI `/generate_stream` (`true`) or `/generate` (`false`).
    Tgi {
        /// Whether the path streams.
        stream: bool,
    },
    /// Ollama `/api/chat` (`true`) or `/api/generate` (`false`).
    Ollama {
        /// Whether it is the chat endpoint.
        chat: bool,
    },
    /// Anthropic `/v1/messages`.
    Anthropic,
    /// SGLang's native `/generate` (told from TGI's by its `text` field).
    Sglang,
}

/// What the mock needs from a native request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NativeRequest {
    /// The API and endpoint.
    pub api: Api,
    /// The requested model, echoed back.
    pub model: String,
    /// Whether to stream.
    pub stream: bool,
    /// The output budget the request sets.
    pub max_tokens: Option<u64>,
    /// `ceil(chars / 2)` over the prompt's text, at least 1.
    pub prompt_tokens: u32,
}

/// The native routes, merged into the mock's router.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/generate_stream", post(tgi_stream))
        .route("/generate", post(tgi_generate))
        .route("/api/chat", post(ollama_chat))
        .route("/api/generate", post(ollama_generate))
        .route("/v1/messages", post(anthropic))
}

async fn tgi_stream(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(&s, Api::Tgi { stream: true }, &body).await
}

/// `/generate` is both TGI's and SGLang's: a body with `text` and no
/// `inputs` is SGLang's.
async fn tgi_generate(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let api = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(obj)) if obj.contains_key("text") && !obj.contains_key("inputs") => {
            Api::Sglang
        }
        _ => Api::Tgi { stream: false },
    };
    respond(&s, api, &body).await
}

async fn ollama_chat(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(&s, Api::Ollama { chat: true }, &body).await
}

async fn ollama_generate(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(&s, Api::Ollama { chat: false }, &body).await
}

async fn anthropic(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(&s, Api::Anthropic, &body).await
}

/// Answers one native request; its TTFT counts from here.
async fn respond(shared: &Arc<Shared>, api: Api, body: &[u8]) -> Response {
    let t0 = Instant::now();
    let req = match parse_native(api, body) {
        Ok(req) => req,
        Err(bad) => return bad.into_response(),
    };
    let (tokens, finish) = match request::output_plan(shared.output_tokens, req.max_tokens) {
        Ok(plan) => plan,
        Err(bad) => return bad.into_response(),
    };
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    let (schedule_rng, mut text_rng) = shared.rngs(seq);
    let schedule = shared.timing.schedule(schedule_rng);
    if req.stream {
        let writer = NativeWriter::new(&req, seq, tokens, finish);
        let content_type = writer.content_type();
        let stream = TokenStream::new(
            Arc::clone(&shared.vocab),
            writer,
            schedule,
            text_rng,
            t0,
            shutdown_signal(shared.stop.clone()),
        )
        .with_start(shared.load.start());
        let headers = [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ];
        return (headers, Body::from_stream(stream)).into_response();
    }
    // Held until the body is built, so the response counts as running.
    let _slot = match wait_whole(shared, schedule, tokens, t0).await {
        Ok(slot) => slot,
        Err(unavailable) => return unavailable,
    };
    let mut picker = TokenPicker::new();
    let text: String = (0..tokens)
        .map(|_| shared.vocab.text(picker.next(&shared.vocab, &mut text_rng)))
        .collect();
    Json(whole_body(&req, seq, &text, tokens, finish)).into_response()
}

fn bad(param: &str, message: impl Into<String>) -> BadRequest {
    BadRequest {
        message: message.into(),
        param: Some(param.to_owned()),
    }
}

/// Reads a native request body: the fields each API requires, with a 400
/// naming the field when one is missing or of the wrong type.
pub(crate) fn parse_native(api: Api, body: &[u8]) -> Result<NativeRequest, BadRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BadRequest {
        message: format!("request body is not valid JSON ({e})"),
        param: None,
    })?;
    let Value::Object(obj) = value else {
        return Err(BadRequest {
            message: "request body must be a JSON object".into(),
            param: None,
        });
    };
    let model = match obj.get("model") {
        None | Some(Value::Null) => DEFAULT_MODEL.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("model", "`model` must be a string")),
    };
    let stream_flag = |default: bool| match obj.get("stream") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad("stream", "`stream` must be true or false")),
    };
    let (stream, max_tokens, chars) = match api {
        Api::Tgi { stream } => {
            let inputs = match obj.get("inputs") {
                Some(Value::String(s)) => s,
                _ => return Err(bad("inputs", "`inputs` must be the prompt string")),
            };
            let max = match obj.get("parameters") {
                None | Some(Value::Null) => None,
                Some(Value::Object(p)) => count(p, "max_new_tokens", "parameters.max_new_tokens")?,
                Some(_) => return Err(bad("parameters", "`parameters` must be an object")),
            };
            (stream, max, chars(inputs))
        }
        Api::Ollama { chat } => {
            let prompt_chars = if chat {
                messages_chars(&obj)?
            } else {
                match obj.get("prompt") {
                    Some(Value::String(s)) => chars(s),
                    _ => return Err(bad("prompt", "`prompt` must be the prompt string")),
                }
            };
            let max = match obj.get("options") {
                None | Some(Value::Null) => None,
                Some(Value::Object(o)) => count(o, "num_predict", "options.num_predict")?,
                Some(_) => return Err(bad("options", "`options` must be an object")),
            };
            // Ollama streams unless told not to.
            (stream_flag(true)?, max, prompt_chars)
        }
        Api::Sglang => {
            let text = match obj.get("text") {
                Some(Value::String(s)) => s,
                _ => return Err(bad("text", "`text` must be the prompt string")),
            };
            let max = match obj.get("sampling_params") {
                None | Some(Value::Null) => None,
                Some(Value::Object(p)) => {
                    count(p, "max_new_tokens", "sampling_params.max_new_tokens")?
                }
                Some(_) => {
                    return Err(bad(
                        "sampling_params",
                        "`sampling_params` must be an object",
                    ));
                }
            };
            (stream_flag(false)?, max, chars(text))
        }
        Api::Anthropic => {
            let Some(max) = count(&obj, "max_tokens", "max_tokens")? else {
                return Err(bad("max_tokens", "`max_tokens` is required, e.g. 1024"));
            };
            let system = match obj.get("system") {
                None | Some(Value::Null) => 0,
                Some(Value::String(s)) => chars(s),
                Some(v) => content_chars(v),
            };
            (
                stream_flag(false)?,
                Some(max),
                messages_chars(&obj)? + system,
            )
        }
    };
    let prompt_tokens = u32::try_from(chars_to_tokens(chars))
        .unwrap_or(u32::MAX)
        .max(1);
    Ok(NativeRequest {
        api,
        model,
        stream,
        max_tokens,
        prompt_tokens,
    })
}

fn chars(s: &str) -> u64 {
    s.chars().count() as u64
}

fn chars_to_tokens(chars: u64) -> u64 {
    chars.div_ceil(2)
}

/// A positive token count at `key`, or none.
fn count(obj: &Map<String, Value>, key: &str, name: &str) -> Result<Option<u64>, BadRequest> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(bad(
                name,
                format!("`{name}` must be a whole number of at least 1"),
            )),
        },
    }
}

/// Characters of every message's content (a string, or text blocks).
fn messages_chars(obj: &Map<String, Value>) -> Result<u64, BadRequest> {
    let Some(Value::Array(messages)) = obj.get("messages") else {
        return Err(bad(
            "messages",
            "`messages` must be a list such as [{\"role\": \"user\", \"content\": \"hi\"}]",
        ));
    };
    Ok(messages
        .iter()
        .map(|m| m.get("content").map_or(0, content_chars))
        .sum())
}

/// Characters of a content value: a string, or a list of `{"text": ..}`
/// blocks.
fn content_chars(v: &Value) -> u64 {
    match v {
        Value::String(s) => chars(s),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .map(chars)
            .sum(),
        _ => 0,
    }
}
