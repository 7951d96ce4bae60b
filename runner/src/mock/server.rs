//! Routing, start-up and shutdown of the mock server.
//!
//! Every response is seeded by the config's `seed` and the request's arrival
//! number at this server (0 for the first), so a given seed always produces
//! the same set of texts, delays and faults whatever the client does.

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::MockConfig;
use super::faults::{Fault, FaultTable, FaultWriter, mid};
use super::load::{Load, Slot, Start};
use super::request::{self, BadRequest, DEFAULT_MODEL, Endpoint};
use super::response::{ResponseMeta, error_response};
use super::schedule::{Schedule, Timing};
use super::stream::{TokenStream, deadline, shutdown_signal};
use super::text::{TokenPicker, Vocabulary};
use super::whole;

/// Request bodies up to this size are read; long-context prompts fit.
const BODY_LIMIT: usize = 64 << 20;

/// How long [`MockServer::shutdown`] waits for connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every handler shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) output_tokens: Option<u32>,
    seed: u64,
    pub(super) timing: Timing,
    pub(super) vocab: Arc<Vocabulary>,
    /// Arrival number of the next request.
    pub(super) seq: AtomicU64,
    /// Unix seconds at start, listed as the model's `created`.
    started: u64,
    pub(super) stop: watch::Receiver<bool>,
    /// Decode slots and the running count.
    pub(super) load: Arc<Load>,
    /// The faults to inject; `None` when there are none.
    faults: Option<FaultTable>,
}

impl Shared {
    /// The jitter and text RNGs of the `seq`-th response.
    pub(super) fn rngs(&self, seq: u64) -> (SmallRng, SmallRng) {
        response_rngs(self.seed, seq)
    }
}

/// A running mock server. Dropping it stops the server as well, without
/// waiting; [`MockServer::shutdown`] also waits for it.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl MockServer {
    /// The address the server is bound to (the real port when bound to 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:30000`, without `/v1`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many completion requests the server has accepted (parsed and
    /// started answering) so far; requests refused with a 400 do not count.
    pub fn requests(&self) -> u64 {
        self.shared.seq.load(Ordering::Relaxed)
    }

    /// Stops accepting connections, cuts every in-flight stream (the client
    /// sees the connection drop before `[DONE]`; a waiting non-streaming
    /// request gets a 503) and waits up to 5 s for the connections to close.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(mut task) = self.task.take() {
            // A timeout leaves stuck connections to die with the runtime;
            // the listener is closed either way.
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Starts a mock server on `addr` (use port 0 for any free port), spawned on
/// the current tokio runtime. Fails when the config is invalid
/// (`InvalidInput`, naming every problem of [`MockConfig::problems`]) or the
/// address cannot be bound.
pub async fn start(config: MockConfig, addr: SocketAddr) -> io::Result<MockServer> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let problems = config.problems();
    if !problems.is_empty() {
        let all: Vec<String> = problems
            .iter()
            .map(|p| format!("mock {} {}: {}", p.field, p.message, p.help))
            .collect();
        return Err(invalid(all.join("; ")));
    }
    let timing = Timing::from_config(&config).map_err(invalid)?;
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        output_tokens: config.output_tokens,
        seed: config.seed,
        timing,
        vocab: Arc::new(Vocabulary::new()),
        seq: AtomicU64::new(0),
        started: unix_now(),
        stop: stop_rx.clone(),
        load: Load::new(config.max_batch),
        faults: FaultTable::new(&config.faults),
    });
    // Small SSE writes must leave at once: Nagle's algorithm would hold a
    // token back until the previous one is acknowledged.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("mock: could not set TCP_NODELAY: {e}");
        }
    });
    let serve = axum::serve(listener, router(Arc::clone(&shared)))
        .with_graceful_shutdown(shutdown_signal(stop_rx));
    let task = tokio::spawn(serve.into_future());
    Ok(MockServer {
        addr,
        shared,
        stop,
        task: Some(task),
    })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .merge(super::native::routes())
        .route("/health", get(health))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

async fn chat(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(&shared, Endpoint::Chat, &body).await
}

async fn completions(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(&shared, Endpoint::Completions, &body).await
}

/// Answers one completion request; its TTFT counts from here, when the body
/// has been read.
async fn respond(shared: &Arc<Shared>, endpoint: Endpoint, body: &[u8]) -> Response {
    let t0 = Instant::now();
    match plan_and_respond(shared, endpoint, body, t0).await {
        Ok(response) => response,
        Err(bad) => bad.into_response(),
    }
}

async fn plan_and_respond(
    shared: &Arc<Shared>,
    endpoint: Endpoint,
    body: &[u8],
    t0: Instant,
) -> Result<Response, BadRequest> {
    let req = request::parse_request(endpoint, body)?;
    let (tokens, finish) = request::output_plan(shared.output_tokens, req.max_tokens)?;
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    let meta = ResponseMeta::new(endpoint, seq, unix_now());
    let (schedule_rng, mut text_rng) = response_rngs(shared.seed, seq);
    let fault = shared
        .faults
        .as_ref()
        .and_then(|table| table.draw(&mut fault_rng(shared.seed, seq)));
    let mut schedule = shared.timing.schedule(schedule_rng);
    match fault {
        Some(Fault::Error(status)) => return Ok(whole::server_error(status)),
        Some(Fault::RateLimit) => return Ok(whole::rate_limited()),
        Some(Fault::StallFirst(stall)) => schedule = schedule.with_stall(0, stall),
        Some(Fault::StallMid(stall)) => schedule = schedule.with_stall(mid(tokens), stall),
        _ => {}
    }

    if req.stream {
        let writer = FaultWriter::new(&req, &meta, tokens, finish, fault);
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
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ];
        return Ok((headers, Body::from_stream(stream)).into_response());
    }

    // Held until the body is built, so the response counts as running.
    let _slot = match wait_whole(shared, schedule, tokens, t0).await {
        Ok(slot) => slot,
        Err(unavailable) => return Ok(unavailable),
    };
    let mut picker = TokenPicker::new();
    let text: String = (0..tokens)
        .map(|_| shared.vocab.text(picker.next(&shared.vocab, &mut text_rng)))
        .collect();
    Ok(whole::body(&req, &meta, &text, tokens, finish, fault))
}

/// Waits until a whole (non-streamed) response is due: for a decode slot,
/// then until its last token would have been sent, reading the running
/// count token by token when the gap depends on it. Returns the slot, to be
/// held until the body is built, or a 503 when the server stops first.
pub(super) async fn wait_whole(
    shared: &Shared,
    mut schedule: Schedule,
    tokens: u32,
    t0: Instant,
) -> Result<Slot, Response> {
    let wait = async {
        let (slot, t0) = match shared.load.start() {
            Start::Now(slot) => (slot, t0),
            Start::Queued(wait) => (wait.await, Instant::now()),
        };
        let mut last = Duration::ZERO;
        for _ in 0..tokens {
            last = schedule.next_under(slot.running());
            if shared.timing.load_dependent() {
                tokio::time::sleep_until(deadline(t0, last)).await;
            }
        }
        tokio::time::sleep_until(deadline(t0, last)).await;
        slot
    };
    tokio::select! {
        slot = wait => Ok(slot),
        () = shutdown_signal(shared.stop.clone()) => Err(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "the mock server is shutting down",
            None,
        )),
    }
}

/// The RNG that draws the `seq`-th response's fault: a stream of its own,
/// so configuring faults changes no text and no delay.
fn fault_rng(seed: u64, seq: u64) -> SmallRng {
    let base = splitmix64(seed ^ splitmix64(seq));
    SmallRng::seed_from_u64(splitmix64(base ^ 0x4641_554C))
}

/// The jitter and text RNGs of the `seq`-th response. Two streams, so the
/// text does not change when only the jitter does.
fn response_rngs(seed: u64, seq: u64) -> (SmallRng, SmallRng) {
    let base = splitmix64(seed ^ splitmix64(seq));
    (
        SmallRng::seed_from_u64(splitmix64(base ^ 0x5348_4544)),
        SmallRng::seed_from_u64(splitmix64(base ^ 0x5445_5854)),
    )
}

/// One step of SplitMix64, a cheap bijective scrambler.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({
        "object": "list",
        "data": [{
            "id": DEFAULT_MODEL,
            "object": "model",
            "created": shared.started,
            "owned_by": "runner-mock",
        }],
    }))
    .into_response()
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown path; the mock serves POST /v1/chat/completions, POST /v1/completions, \
         GET /v1/models and GET /health (OpenAI), POST /generate_stream and /generate (TGI, \
         or SGLang with `text`), POST /api/chat and /api/generate (Ollama) and POST /v1/messages \
         (Anthropic)",
        None,
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
