//! The bytes of the mock's native APIs (see `native.rs`): TGI, Anthropic and
//! SGLang SSE events, Ollama NDJSON lines, and their whole bodies. As with OpenAI's
//! chunks, everything but the tokens is serialized when the request arrives,
//! so sending a token copies bytes and runs no serializer.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Value, json};

use super::native::{Api, NativeRequest};
use super::request::FinishReason;
use super::stream::FrameWriter;
use super::text::json_literal;

/// A fixed `created_at` for Ollama lines: the mock's output is seeded, so
/// its bytes do not depend on the wall clock.
const CREATED_AT: &str = "2026-01-01T00:00:00Z";

/// The stream of one native response: per token `head + token + tail`, with
/// `open` before the first and `close` after the last.
#[derive(Debug, Clone)]
pub(crate) struct NativeWriter {
    open: Bytes,
    head: Bytes,
    tail: Bytes,
    close: Bytes,
    tokens: u32,
    content_type: &'static str,
    /// SGLang's frames repeat all the text so far, so they are built from
    /// this state instead of `head + token + tail`.
    sglang: Option<Cumulative>,
}

/// The state of an SGLang stream: the text so far, as escaped JSON string
/// content (token literals without their quotes, which concatenate).
#[derive(Debug, Clone)]
struct Cumulative {
    text: Vec<u8>,
    prompt_tokens: u32,
    reason: &'static str,
}

impl Cumulative {
    fn frame(&mut self, index: u32, token: &[u8], tokens: u32) -> Bytes {
        let inner = token
            .strip_prefix(b"\"")
            .and_then(|t| t.strip_suffix(b"\""))
            .unwrap_or(token);
        self.text.extend_from_slice(inner);
        let last = index + 1 >= tokens;
        let finish = if last {
            format!(r#"{{"type":"{}","length":{tokens}}}"#, self.reason)
        } else {
            "null".to_owned()
        };
        let mut buf = BytesMut::with_capacity(self.text.len() + 160);
        buf.put_slice(b"data: {\"text\":\"");
        buf.put_slice(&self.text);
        buf.put_slice(
            format!(
                r#"","meta_info":{{"prompt_tokens":{},"completion_tokens":{},"finish_reason":{finish}}}}}"#,
                self.prompt_tokens,
                index + 1
            )
            .as_bytes(),
        );
        buf.put_slice(b"\n\n");
        if last {
            buf.put_slice(b"data: [DONE]\n\n");
        }
        buf.freeze()
    }
}

/// The finish reason as each API names it.
fn finish_name(api: Api, finish: FinishReason) -> &'static str {
    match (api, finish) {
        (Api::Tgi { .. }, FinishReason::Stop) => "eos_token",
        (Api::Anthropic, FinishReason::Stop) => "end_turn",
        (Api::Anthropic, FinishReason::Length) => "max_tokens",
        (_, finish) => finish.as_str(),
    }
}

/// One SSE event with a name.
fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl NativeWriter {
    /// The frames of a response of `tokens` tokens (at least 1).
    pub(crate) fn new(req: &NativeRequest, seq: u64, tokens: u32, finish: FinishReason) -> Self {
        let reason = finish_name(req.api, finish);
        let model = json_literal(&req.model);
        let sglang = (req.api == Api::Sglang).then(|| Cumulative {
            text: Vec::new(),
            prompt_tokens: req.prompt_tokens,
            reason,
        });
        let (open, head, tail, close, content_type) = match req.api {
            Api::Sglang => (
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                "text/event-stream",
            ),
            Api::Tgi { .. } => (
                String::new(),
                r#"data: {"index":0,"token":{"id":0,"text":"#.to_owned(),
                r#","logprob":0.0,"special":false},"generated_text":null,"details":null}"#
                    .to_owned()
                    + "\n\n",
                // TGI ends with a special token carrying the details.
                format!(
                    "data: {}\n\n",
                    json!({
                        "index": tokens + 1,
                        "token": {"id": 2, "text": "</s>", "logprob": 0.0, "special": true},
                        "generated_text": null,
                        "details": {"finish_reason": reason, "generated_tokens": tokens,
                                    "input_length": req.prompt_tokens, "seed": null},
                    })
                ),
                "text/event-stream",
            ),
            Api::Ollama { chat } => {
                let (head, tail) = if chat {
                    (
                        format!(
                            r#"{{"model":{model},"created_at":"{CREATED_AT}","message":{{"role":"assistant","content":"#
                        ),
                        "},".to_owned() + r#""done":false}"# + "\n",
                    )
                } else {
                    (
                        format!(r#"{{"model":{model},"created_at":"{CREATED_AT}","response":"#),
                        r#","done":false}"#.to_owned() + "\n",
                    )
                };
                let mut last = json!({
                    "model": req.model,
                    "created_at": CREATED_AT,
                    "done": true,
                    "done_reason": reason,
                    "prompt_eval_count": req.prompt_tokens,
                    "eval_count": tokens,
                });
                if chat {
                    last["message"] = json!({"role": "assistant", "content": ""});
                } else {
                    last["response"] = json!("");
                }
                (
                    String::new(),
                    head,
                    tail,
                    format!("{last}\n"),
                    "application/x-ndjson",
                )
            }
            Api::Anthropic => {
                let open = event(
                    "message_start",
                    &json!({"type": "message_start", "message": {
                        "id": format!("msg_mock{seq}"), "type": "message", "role": "assistant",
                        "model": req.model, "content": [], "stop_reason": null,
                        "stop_sequence": null,
                        "usage": {"input_tokens": req.prompt_tokens, "output_tokens": 1}}}),
                ) + &event(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": 0,
                            "content_block": {"type": "text", "text": ""}}),
                );
                let close = event(
                    "content_block_stop",
                    &json!({"type": "content_block_stop", "index": 0}),
                ) + &event(
                    "message_delta",
                    &json!({"type": "message_delta",
                            "delta": {"stop_reason": reason, "stop_sequence": null},
                            "usage": {"output_tokens": tokens}}),
                ) + &event("message_stop", &json!({"type": "message_stop"}));
                (
                    open,
                    r#"event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"#
                        .to_owned(),
                    "}}\n\n".to_owned(),
                    close,
                    "text/event-stream",
                )
            }
        };
        NativeWriter {
            open: Bytes::from(open),
            head: Bytes::from(head),
            tail: Bytes::from(tail),
            close: Bytes::from(close),
            tokens,
            content_type,
            sglang,
        }
    }

    /// The response's `content-type`.
    pub(crate) fn content_type(&self) -> &'static str {
        self.content_type
    }
}

impl FrameWriter for NativeWriter {
    fn frames(&self) -> u32 {
        self.tokens
    }

    fn frame(&mut self, index: u32, token: &[u8]) -> Bytes {
        if let Some(state) = &mut self.sglang {
            return state.frame(index, token, self.tokens);
        }
        let open = if index == 0 { &self.open[..] } else { &[] };
        let close = if index + 1 >= self.tokens {
            &self.close[..]
        } else {
            &[]
        };
        let mut buf = BytesMut::with_capacity(
            open.len() + self.head.len() + token.len() + self.tail.len() + close.len(),
        );
        buf.put_slice(open);
        buf.put_slice(&self.head);
        buf.put_slice(token);
        buf.put_slice(&self.tail);
        buf.put_slice(close);
        buf.freeze()
    }
}

/// The non-streamed body of a native response holding `text`.
pub(crate) fn whole_body(
    req: &NativeRequest,
    seq: u64,
    text: &str,
    tokens: u32,
    finish: FinishReason,
) -> Value {
    let reason = finish_name(req.api, finish);
    match req.api {
        Api::Tgi { .. } => json!({
            "generated_text": text,
            "details": {"finish_reason": reason, "generated_tokens": tokens, "seed": null,
                        "prefill": [], "tokens": []},
        }),
        Api::Ollama { chat } => {
            let mut body = json!({
                "model": req.model,
                "created_at": CREATED_AT,
                "done": true,
                "done_reason": reason,
                "prompt_eval_count": req.prompt_tokens,
                "eval_count": tokens,
            });
            if chat {
                body["message"] = json!({"role": "assistant", "content": text});
            } else {
                body["response"] = json!(text);
            }
            body
        }
        Api::Sglang => json!({
            "text": text,
            "meta_info": {"id": format!("mock{seq}"), "prompt_tokens": req.prompt_tokens,
                          "completion_tokens": tokens,
                          "finish_reason": {"type": reason, "length": tokens}},
        }),
        Api::Anthropic => json!({
            "id": format!("msg_mock{seq}"),
            "type": "message",
            "role": "assistant",
            "model": req.model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": reason,
            "stop_sequence": null,
            "usage": {"input_tokens": req.prompt_tokens, "output_tokens": tokens},
        }),
    }
}
