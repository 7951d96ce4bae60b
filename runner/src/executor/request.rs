//! One request, start to end: build it through the plugin, send it, frame
//! and parse the body as it arrives, and record a [`Sample`].
//!
//! Every timestamp is taken when bytes come off the socket, before framing
//! or plugin calls, so their cost never shows in a latency. Whatever goes
//! wrong becomes the sample's failure class; nothing here panics or returns
//! early without a sample.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::{Instant, timeout_at};

use tokio_util::sync::CancellationToken;

use super::RunContext;
use crate::framing::{Frame as WireFrame, Framer, FramingError};
use crate::plugin::{CallError, Event, Frame, Lease, RequestInput};
use crate::sample::{ContentEvent, ErrorClass, Failure, Sample, Usage};

/// How much of an error body is kept for the message.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// Which deadline a wait ran into.
#[derive(Clone, Copy)]
enum Deadline {
    FirstToken,
    Idle,
    Total,
}

/// Deadlines of one request, as tokio instants.
struct Deadlines {
    first_token: Instant,
    total: Instant,
    idle: Duration,
}

impl Deadlines {
    /// The earliest deadline for the next wait, and which one it is. The
    /// first-token deadline holds until content arrives; the idle one only
    /// once the body has started (`reading`): before its first byte, a
    /// silent server is still on the first token (queued, or reading the
    /// prompt), which `first_token` bounds, so a short `idle` never cuts a
    /// long wait the scenario allows.
    fn next(&self, have_content: bool, reading: bool) -> (Instant, Deadline) {
        let mut best: Option<(Instant, Deadline)> = None;
        let mut consider = |at: Instant, which| {
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, which));
            }
        };
        if reading {
            consider(Instant::now() + self.idle, Deadline::Idle);
        }
        if !have_content {
            consider(self.first_token, Deadline::FirstToken);
        }
        match best {
            Some((at, which)) if at < self.total => (at, which),
            _ => (self.total, Deadline::Total),
        }
    }
}

fn fail(class: ErrorClass, message: impl Into<String>) -> Failure {
    Failure {
        class,
        message: message.into(),
    }
}

fn timeout_failure(d: Deadline, ctx: &RunContext) -> Failure {
    let t = &ctx.timeouts;
    match d {
        Deadline::FirstToken => fail(
            ErrorClass::TimeoutFirstToken,
            format!("no content within {:?} of the send", t.first_token),
        ),
        Deadline::Idle => fail(
            ErrorClass::TimeoutIdle,
            format!("stream silent for more than {:?}", t.idle),
        ),
        Deadline::Total => fail(
            ErrorClass::TimeoutTotal,
            format!("request took longer than {:?}", t.total),
        ),
    }
}

fn plugin_failure(e: CallError) -> Failure {
    match e {
        CallError::Fault(m) => fail(ErrorClass::PluginFault, m),
        CallError::Rejected(m) => fail(ErrorClass::Protocol, m),
    }
}

fn classify_send_error(e: &reqwest::Error) -> Failure {
    let msg = error_chain(e);
    if e.is_connect() {
        if e.is_timeout() {
            fail(ErrorClass::TimeoutConnect, msg)
        } else {
            fail(ErrorClass::Connect, msg)
        }
    } else if e.is_timeout() {
        fail(ErrorClass::TimeoutConnect, msg)
    } else {
        fail(ErrorClass::StreamDropped, msg)
    }
}

fn body_too_long(limit: usize) -> String {
    format!(
        "the response body is longer than {limit} bytes, the most one response may hold: the server \
         sent far more than an answer (or this endpoint streams: check `target.stream`)"
    )
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Applies plugin events to the sample. Returns a failure when the server
/// reported an error.
fn apply(events: Vec<Event>, at: u64, s: &mut Sample) -> Option<Failure> {
    for ev in events {
        match ev {
            Event::Text(t) => {
                let chars = t.chars().count() as u32;
                if chars > 0 {
                    s.content.push(ContentEvent { at, chars });
                    if let Some(text) = s.text.as_mut() {
                        text.push_str(&t);
                    }
                }
            }
            Event::Reasoning(t) => s.reasoning_chars += t.chars().count() as u64,
            Event::Usage(u) => {
                s.usage = Some(Usage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                })
            }
            Event::Finish(r) => s.finish_reason = Some(r),
            Event::Error(m) => return Some(fail(ErrorClass::StreamError, m)),
            Event::Done => {}
        }
    }
    None
}

/// Who sends a request and when it was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Level (step) index.
    pub level: u32,
    /// Closed loop: the user; open loop: the in-flight slot it held.
    pub user: u32,
    /// Index of the dataset (or trace) item.
    pub item: u32,
    /// Turn index within a session (0 for single requests).
    pub turn: u32,
    /// When it was due, run-clock ns.
    pub planned: u64,
}

/// Sends one request built from `input`, due at `meta.planned`, and records
/// everything about it. `stop` cancels it (the run's stop, or a drain).
/// Never fails: a failure is in the sample.
pub async fn execute(
    ctx: &RunContext,
    meta: Meta,
    input: RequestInput,
    stop: &CancellationToken,
) -> Sample {
    let mut s = Sample {
        level: meta.level,
        user: meta.user,
        item: meta.item,
        turn: meta.turn,
        planned: meta.planned,
        text: ctx.keep_text.then(String::new),
        ..Default::default()
    };
    let mut lease = match ctx.plugin.checkout() {
        Ok(l) => l,
        Err(e) => {
            s.sent = ctx.clock.now();
            s.end = s.sent;
            s.failure = Some(plugin_failure(e));
            return s;
        }
    };
    let built = lease.build_request(&input);
    s.sent = ctx.clock.now();
    ctx.in_flight.begin(s.sent);
    let failure = match built {
        Err(e) => Some(plugin_failure(e)),
        Ok(req) => {
            tokio::select! {
                f = exchange(ctx, &mut lease, req, &mut s) => f,
                _ = stop.cancelled() => Some(fail(
                    ErrorClass::Cancelled,
                    if ctx.cancel.is_cancelled() {
                        "the run was stopped"
                    } else {
                        "still running when the step ended (load.drain)"
                    },
                )),
            }
        }
    };
    s.end = ctx.clock.now();
    ctx.in_flight.end(s.end);
    s.failure = failure.or_else(|| {
        s.content
            .is_empty()
            .then(|| fail(ErrorClass::Empty, "the response ended without content"))
    });
    s
}

/// Sends dataset item `item` alone, due at `planned`, stopped only by the
/// run's cancel token (tests and tools that drive single requests).
pub async fn execute_item(ctx: &RunContext, item: u32, planned: u64) -> Sample {
    let items = &ctx.dataset.items;
    let input = ctx.input(&items[item as usize % items.len().max(1)]);
    let meta = Meta {
        item,
        planned,
        ..Meta::default()
    };
    execute(ctx, meta, input, &ctx.cancel).await
}

/// The HTTP exchange. Fills `s` as it goes; returns the failure, if any.
async fn exchange(
    ctx: &RunContext,
    lease: &mut Lease,
    req: crate::plugin::HttpRequest,
    s: &mut Sample,
) -> Option<Failure> {
    let start = ctx.clock.instant(s.sent);
    let d = Deadlines {
        first_token: Instant::from_std(start + ctx.timeouts.first_token),
        total: Instant::from_std(start + ctx.timeouts.total),
        idle: ctx.timeouts.idle,
    };
    let http = match ctx.http_request(req) {
        Ok(r) => r,
        Err(m) => return Some(fail(ErrorClass::Protocol, m)),
    };
    let (until, which) = d.next(false, false);
    let resp = match timeout_at(until, ctx.client.execute(http)).await {
        Err(_) => return Some(timeout_failure(which, ctx)),
        Ok(Err(e)) => return Some(classify_send_error(&e)),
        Ok(Ok(r)) => r,
    };
    s.headers = Some(ctx.clock.now());
    let status = resp.status().as_u16();
    s.status = Some(status);
    let mut body = resp.bytes_stream();
    if !(200..300).contains(&status) {
        let mut buf = Vec::new();
        while buf.len() < ERROR_BODY_LIMIT {
            let (until, _) = d.next(true, true);
            match timeout_at(until, body.next()).await {
                Ok(Some(Ok(chunk))) => buf.extend_from_slice(&chunk),
                _ => break,
            }
        }
        buf.truncate(ERROR_BODY_LIMIT);
        let detail = match lease.parse_response(status, &buf) {
            Ok(events) => events.into_iter().find_map(|e| match e {
                Event::Error(m) => Some(m),
                _ => None,
            }),
            Err(_) => None,
        }
        .unwrap_or_else(|| String::from_utf8_lossy(&buf[..buf.len().min(300)]).into_owned());
        return Some(fail(ErrorClass::Http, format!("HTTP {status}: {detail}")));
    }
    if !ctx.stream {
        let mut buf = Vec::new();
        loop {
            let (until, which) = d.next(false, s.first_byte.is_some());
            match timeout_at(until, body.next()).await {
                Err(_) => return Some(timeout_failure(which, ctx)),
                Ok(Some(Ok(chunk))) => {
                    s.first_byte.get_or_insert_with(|| ctx.clock.now());
                    // A whole body is one frame: bounded like a line, so a
                    // server cannot exhaust memory or stall the plugin.
                    if buf.len() + chunk.len() > ctx.max_line {
                        return Some(fail(ErrorClass::Protocol, body_too_long(ctx.max_line)));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(Some(Err(e))) => return Some(fail(ErrorClass::StreamDropped, error_chain(&e))),
                Ok(None) => break,
            }
        }
        let at = ctx.clock.now();
        // As in a stream (see the framing), bytes that are not UTF-8 are not
        // good output, whatever the plugin would make of them.
        if let Err(e) = std::str::from_utf8(&buf) {
            let offset = e.valid_up_to() as u64;
            return Some(fail(
                ErrorClass::Protocol,
                FramingError::InvalidUtf8 { offset }.to_string(),
            ));
        }
        s.first_event = Some(at);
        return match lease.parse_response(status, &buf) {
            Ok(events) => apply(events, at, s),
            Err(e) => Some(plugin_failure(e)),
        };
    }
    if let Err(e) = lease.start_stream() {
        return Some(plugin_failure(e));
    }
    let mut framer = Framer::new(ctx.framing, ctx.max_line);
    let mut wire: Vec<WireFrame> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    loop {
        let (until, which) = d.next(!s.content.is_empty(), s.first_byte.is_some());
        let next = timeout_at(until, body.next()).await;
        let at = ctx.clock.now();
        let ended = match next {
            Err(_) => return Some(timeout_failure(which, ctx)),
            Ok(Some(Err(e))) => return Some(fail(ErrorClass::StreamDropped, error_chain(&e))),
            Ok(Some(Ok(chunk))) => {
                s.first_byte.get_or_insert(at);
                if let Err(e) = framer.push(&chunk, &mut wire) {
                    return Some(fail(ErrorClass::Protocol, e.to_string()));
                }
                false
            }
            Ok(None) => {
                if let Err(e) = framer.finish(&mut wire) {
                    return Some(fail(ErrorClass::Protocol, e.to_string()));
                }
                true
            }
        };
        if !wire.is_empty() {
            s.first_event.get_or_insert(at);
            frames.clear();
            frames.extend(wire.drain(..).map(|f| Frame {
                event: f.event,
                data: f.data,
            }));
            match lease.feed(&frames) {
                Ok(events) => {
                    if let Some(f) = apply(events, at, s) {
                        return Some(f);
                    }
                }
                Err(e) => return Some(plugin_failure(e)),
            }
        }
        if ended {
            break;
        }
    }
    match lease.finish_stream() {
        Ok(events) => apply(events, ctx.clock.now(), s),
        Err(e) => Some(plugin_failure(e)),
    }
}
