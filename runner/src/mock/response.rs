//! OpenAI response bytes as the mock sends them: SSE chunks, whole bodies
//! and errors.
//!
//! Chunks are assembled from parts serialized once: the response's envelope
//! (`id`, `object`, `created`, `model`) when the request arrives, each token's
//! JSON literal when the server starts. Sending a token copies bytes and never
//! runs a serializer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Value, json};

use super::request::{Endpoint, FinishReason, ParsedRequest};
use super::text::json_literal;

const DONE: &[u8] = b"data: [DONE]\n\n";

/// An error response in OpenAI's shape.
pub(crate) fn error_response(
    status: StatusCode,
    kind: &str,
    message: &str,
    param: Option<&str>,
) -> Response {
    let body = json!({
        "error": {"message": message, "type": kind, "param": param, "code": Value::Null}
    });
    (status, Json(body)).into_response()
}

/// The identity of one response, shared by its chunks or its body.
#[derive(Debug, Clone)]
pub(crate) struct ResponseMeta {
    /// `chatcmpl-mock<seq>` or `cmpl-mock<seq>`.
    pub id: String,
    /// Unix seconds when the request arrived.
    pub created: u64,
}

impl ResponseMeta {
    /// The id and creation time of the server's `seq`-th response.
    pub(crate) fn new(endpoint: Endpoint, seq: u64, created: u64) -> Self {
        let prefix = match endpoint {
            Endpoint::Chat => "chatcmpl",
            Endpoint::Completions => "cmpl",
        };
        ResponseMeta {
            id: format!("{prefix}-mock{seq}"),
            created,
        }
    }
}

/// The SSE bytes of one streaming response, all but the tokens serialized
/// up front. Frame `i` (0-based) carries token `i`; the first chat frame is
/// preceded by a `role: assistant` chunk with empty content (as vLLM and
/// OpenAI send), and the last carries `finish_reason`, then the usage chunk
/// when asked for, then `data: [DONE]`.
#[derive(Debug, Clone)]
pub(crate) struct ChunkWriter {
    role: Option<Bytes>,
    head: Bytes,
    tail: Bytes,
    tail_final: Bytes,
    usage: Option<Bytes>,
    tokens: u32,
}

impl ChunkWriter {
    /// Chunks for a response of `tokens` tokens (at least 1).
    pub(crate) fn new(
        req: &ParsedRequest,
        meta: &ResponseMeta,
        tokens: u32,
        finish: FinishReason,
    ) -> Self {
        Self::with_usage(req, meta, tokens, tokens, finish)
    }

    /// Chunks for `tokens` frames whose usage reports `completion_tokens`
    /// (they differ for an answer of empty content).
    pub(crate) fn with_usage(
        req: &ParsedRequest,
        meta: &ResponseMeta,
        tokens: u32,
        completion_tokens: u32,
        finish: FinishReason,
    ) -> Self {
        let object = match req.endpoint {
            Endpoint::Chat => "chat.completion.chunk",
            Endpoint::Completions => "text_completion",
        };
        let envelope = format!(
            r#"data: {{"id":"{}","object":"{object}","created":{},"model":{},"#,
            meta.id,
            meta.created,
            json_literal(&req.model),
        );
        let (head, tail, tail_final, role) = match req.endpoint {
            Endpoint::Chat => (
                format!(r#"{envelope}"choices":[{{"index":0,"delta":{{"content":"#),
                String::from("},\"finish_reason\":null}]}\n\n"),
                format!("}},\"finish_reason\":\"{}\"}}]}}\n\n", finish.as_str()),
                Some(Bytes::from(format!(
                    "{envelope}\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n"
                ))),
            ),
            Endpoint::Completions => (
                format!(r#"{envelope}"choices":[{{"index":0,"text":"#),
                String::from(",\"logprobs\":null,\"finish_reason\":null}]}\n\n"),
                format!(
                    ",\"logprobs\":null,\"finish_reason\":\"{}\"}}]}}\n\n",
                    finish.as_str()
                ),
                None,
            ),
        };
        let usage = req.include_usage.then(|| {
            Bytes::from(format!(
                "{envelope}\"choices\":[],\"usage\":{}}}\n\n",
                usage_json(req.prompt_tokens, completion_tokens)
            ))
        });
        ChunkWriter {
            role,
            head: Bytes::from(head),
            tail: Bytes::from(tail),
            tail_final: Bytes::from(tail_final),
            usage,
            tokens,
        }
    }

    /// Frames this response sends (one per token).
    pub(crate) fn frames(&self) -> u32 {
        self.tokens
    }

    /// One content chunk carrying `token` (a JSON string literal's bytes),
    /// with no role and no finish reason: what a mid-stream chunk looks like.
    pub(crate) fn content_chunk(&self, token: &[u8]) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.head.len() + token.len() + self.tail.len());
        buf.put_slice(&self.head);
        buf.put_slice(token);
        buf.put_slice(&self.tail);
        buf.freeze()
    }

    /// The bytes of frame `index`, carrying the token whose JSON literal is
    /// `token`.
    pub(crate) fn frame(&self, index: u32, token: &[u8]) -> Bytes {
        let first = index == 0;
        let last = index + 1 >= self.tokens;
        let role = self.role.as_ref().filter(|_| first);
        let usage = self.usage.as_ref().filter(|_| last);
        let tail = if last { &self.tail_final } else { &self.tail };
        let len = role.map_or(0, Bytes::len)
            + self.head.len()
            + token.len()
            + tail.len()
            + usage.map_or(0, Bytes::len)
            + if last { DONE.len() } else { 0 };
        let mut buf = BytesMut::with_capacity(len);
        if let Some(role) = role {
            buf.put_slice(role);
        }
        buf.put_slice(&self.head);
        buf.put_slice(token);
        buf.put_slice(tail);
        if let Some(usage) = usage {
            buf.put_slice(usage);
        }
        if last {
            buf.put_slice(DONE);
        }
        buf.freeze()
    }
}

fn usage_json(prompt_tokens: u32, completion_tokens: u32) -> String {
    format!(
        r#"{{"prompt_tokens":{prompt_tokens},"completion_tokens":{completion_tokens},"total_tokens":{}}}"#,
        u64::from(prompt_tokens) + u64::from(completion_tokens)
    )
}

/// The non-streaming body: `choices` with the whole text, and `usage`.
pub(crate) fn full_body(
    req: &ParsedRequest,
    meta: &ResponseMeta,
    text: &str,
    tokens: u32,
    finish: FinishReason,
) -> Value {
    let (object, choice) = match req.endpoint {
        Endpoint::Chat => (
            "chat.completion",
            json!({
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish.as_str(),
            }),
        ),
        Endpoint::Completions => (
            "text_completion",
            json!({
                "index": 0,
                "text": text,
                "logprobs": Value::Null,
                "finish_reason": finish.as_str(),
            }),
        ),
    };
    json!({
        "id": meta.id,
        "object": object,
        "created": meta.created,
        "model": req.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": req.prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": u64::from(req.prompt_tokens) + u64::from(tokens),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::request::{BadRequest, parse_request};

    fn chat(body: &str) -> Result<ParsedRequest, BadRequest> {
        parse_request(Endpoint::Chat, body.as_bytes())
    }

    fn completions(body: &str) -> Result<ParsedRequest, BadRequest> {
        parse_request(Endpoint::Completions, body.as_bytes())
    }

    #[test]
    fn chat_frames_are_valid_openai_chunks() {
        let req = chat(r#"{"model":"m\"q","stream":true,"stream_options":{"include_usage":true},"messages":[{"content":"abcd"}]}"#)
            .expect("valid");
        let meta = ResponseMeta::new(Endpoint::Chat, 3, 1_700_000_000);
        let w = ChunkWriter::new(&req, &meta, 2, FinishReason::Stop);
        let first = String::from_utf8(w.frame(0, br#""\n""#).to_vec()).expect("utf8");
        let events: Vec<&str> = first.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 2, "role chunk then token chunk: {first}");
        let role: Value = serde_json::from_str(&events[0]["data: ".len()..]).expect("json");
        assert_eq!(
            role["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(role["model"], "m\"q");
        assert_eq!(role["id"], "chatcmpl-mock3");
        let tok: Value = serde_json::from_str(&events[1]["data: ".len()..]).expect("json");
        assert_eq!(tok["choices"][0]["delta"]["content"], "\n");
        assert_eq!(tok["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(tok["object"], "chat.completion.chunk");

        let last = String::from_utf8(w.frame(1, br#""x""#).to_vec()).expect("utf8");
        let events: Vec<&str> = last.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 3, "{last}");
        let tok: Value = serde_json::from_str(&events[0]["data: ".len()..]).expect("json");
        assert_eq!(tok["choices"][0]["finish_reason"], "stop");
        let usage: Value = serde_json::from_str(&events[1]["data: ".len()..]).expect("json");
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(
            usage["usage"],
            json!({"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4})
        );
        assert_eq!(events[2], "data: [DONE]");
    }

    #[test]
    fn completion_frames_use_text_and_no_role() {
        let req = completions(r#"{"prompt":"p","stream":true}"#).expect("valid");
        let meta = ResponseMeta::new(Endpoint::Completions, 0, 1);
        let w = ChunkWriter::new(&req, &meta, 1, FinishReason::Length);
        let only = String::from_utf8(w.frame(0, br#""hi""#).to_vec()).expect("utf8");
        let events: Vec<&str> = only.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 2, "{only}");
        let tok: Value = serde_json::from_str(&events[0]["data: ".len()..]).expect("json");
        assert_eq!(tok["object"], "text_completion");
        assert_eq!(tok["choices"][0]["text"], "hi");
        assert_eq!(tok["choices"][0]["finish_reason"], "length");
        assert_eq!(events[1], "data: [DONE]");
    }
}
