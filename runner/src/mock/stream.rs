//! The timed body of a streaming response: a `Stream` of SSE frames, each
//! released when its [`Schedule`] offset comes due.
//!
//! The stream is polled by the connection's own task, so a response costs
//! one timer and a few small allocations, never a task or a channel of its
//! own. Each frame waits on `sleep_until(t0 + offset)`, an absolute deadline,
//! so a late wake-up delays one frame and never the ones after it.
//!
//! A stream holds its decode slot ([`Start`]) until it ends; one that had to
//! queue for a slot first waits for it, with its headers already sent, and
//! its schedule starts when it gets the slot. Each frame's offset is taken
//! when the previous frame has left, with the number of running responses at
//! that moment.
//!
//! Tokio's timer ticks in whole milliseconds, so a frame leaves up to 1 ms
//! after its offset and never before it. With sub-millisecond gaps several
//! frames share a tick, and the absolute deadlines keep the average rate
//! exact.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use rand::rngs::SmallRng;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::load::{Slot, Start};
use super::response::ChunkWriter;
use super::schedule::Schedule;
use super::text::{TokenPicker, Vocabulary};

/// Resolves when the server is stopping.
pub(crate) type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A [`ShutdownSignal`] that fires when `rx` turns true or its sender is gone.
pub(crate) fn shutdown_signal(mut rx: watch::Receiver<bool>) -> ShutdownSignal {
    Box::pin(async move {
        // An error means the sender is gone, which is a stop as well.
        let _ = rx.wait_for(|stop| *stop).await;
    })
}

/// `t0 + offset`, saturating far in the future instead of overflowing.
pub(crate) fn deadline(t0: Instant, offset: Duration) -> Instant {
    // A century is beyond any run and still far from the clock's limits.
    const FAR: Duration = Duration::from_secs(100 * 365 * 86_400);
    let offset = offset.min(FAR);
    t0.checked_add(offset).unwrap_or(t0)
}

/// What a streamed response's wire format provides: how many frames it
/// sends and the bytes of each, given the token's JSON literal. OpenAI's
/// [`ChunkWriter`] is one; `native.rs` has the TGI, Ollama and Anthropic
/// ones.
pub(crate) trait FrameWriter {
    /// Frames this response sends (one per token).
    fn frames(&self) -> u32;
    /// The bytes of frame `index`, carrying the token whose JSON literal is
    /// `token`. Called once per frame, in order, so a writer may keep state
    /// (SGLang's cumulative text).
    fn frame(&mut self, index: u32, token: &[u8]) -> Bytes;
    /// The frame before which the connection is to be closed, without the
    /// rest of the stream (an injected fault); `None` sends every frame.
    fn cut_before(&self) -> Option<u32> {
        None
    }
}

impl FrameWriter for ChunkWriter {
    fn frames(&self) -> u32 {
        ChunkWriter::frames(self)
    }
    fn frame(&mut self, index: u32, token: &[u8]) -> Bytes {
        ChunkWriter::frame(self, index, token)
    }
}

/// The body of one streaming response, in any wire format.
pub(crate) struct TokenStream<W = ChunkWriter> {
    vocab: Arc<Vocabulary>,
    writer: W,
    schedule: Schedule,
    picker: TokenPicker,
    text_rng: SmallRng,
    t0: Instant,
    sleep: Pin<Box<Sleep>>,
    /// Whether `sleep` holds the deadline of frame `next`.
    armed: bool,
    next: u32,
    shutdown: ShutdownSignal,
    /// Set once the stream has ended, normally or by shutdown.
    ended: bool,
    /// The decode slot, once held; released when the stream ends.
    slot: Option<Slot>,
    /// The wait for a slot, while queued.
    queued: Option<Pin<Box<dyn Future<Output = Slot> + Send>>>,
}

impl<W: FrameWriter> TokenStream<W> {
    /// A stream whose frame `i` is due at `t0 + schedule[i]`.
    pub(crate) fn new(
        vocab: Arc<Vocabulary>,
        writer: W,
        schedule: Schedule,
        text_rng: SmallRng,
        t0: Instant,
        shutdown: ShutdownSignal,
    ) -> Self {
        TokenStream {
            vocab,
            writer,
            schedule,
            picker: TokenPicker::new(),
            text_rng,
            t0,
            sleep: Box::pin(tokio::time::sleep_until(t0)),
            armed: false,
            next: 0,
            shutdown,
            ended: false,
            slot: None,
            queued: None,
        }
    }

    /// Holds the response's decode slot: a slot held already keeps `t0`; a
    /// queued response's schedule starts when it gets one.
    pub(crate) fn with_start(mut self, start: Start) -> Self {
        match start {
            Start::Now(slot) => self.slot = Some(slot),
            Start::Queued(wait) => self.queued = Some(wait),
        }
        self
    }

    /// Ends the stream and frees its slot.
    fn end(&mut self) {
        self.ended = true;
        self.slot = None;
        self.queued = None;
    }
}

impl<W: FrameWriter + Unpin> Stream for TokenStream<W> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended || this.next >= this.writer.frames() {
            this.end();
            return Poll::Ready(None);
        }
        if this.shutdown.as_mut().poll(cx).is_ready() {
            // An error, not a clean end: hyper then drops the connection
            // without the final chunk, so the client sees a cut stream
            // rather than a short answer that looks complete.
            this.end();
            return Poll::Ready(Some(Err(io::Error::other("mock server shutting down"))));
        }
        if let Some(wait) = this.queued.as_mut() {
            let slot = ready!(wait.as_mut().poll(cx));
            this.slot = Some(slot);
            this.queued = None;
            this.t0 = Instant::now();
        }
        if !this.armed {
            let running = this.slot.as_ref().map_or(1, Slot::running);
            let offset = this.schedule.next_under(running);
            this.sleep.as_mut().reset(deadline(this.t0, offset));
            this.armed = true;
        }
        ready!(this.sleep.as_mut().poll(cx));
        this.armed = false;
        if this.writer.cut_before() == Some(this.next) {
            // As at shutdown: an error makes hyper close the connection.
            this.end();
            return Poll::Ready(Some(Err(io::Error::other(
                "mock fault: connection dropped mid-stream",
            ))));
        }
        let token = this.picker.next(&this.vocab, &mut this.text_rng);
        let frame = this.writer.frame(this.next, this.vocab.json(token));
        this.next += 1;
        Poll::Ready(Some(Ok(frame)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::MockConfig;
    use crate::mock::load::Load;
    use crate::mock::request::{Endpoint, FinishReason, parse_request};
    use crate::mock::response::ResponseMeta;
    use crate::mock::schedule::Timing;
    use futures_util::StreamExt;
    use rand::SeedableRng;

    fn make(
        config: &MockConfig,
        tokens: u32,
        shutdown: ShutdownSignal,
    ) -> (TokenStream, Vec<Duration>) {
        let timing = Timing::from_config(config).expect("valid");
        let schedule = timing.schedule(SmallRng::seed_from_u64(config.seed));
        let want: Vec<Duration> = schedule.clone().take(tokens as usize).collect();
        let req = parse_request(
            Endpoint::Chat,
            br#"{"stream":true,"messages":[{"content":"hi"}]}"#,
        )
        .expect("valid");
        let meta = ResponseMeta::new(Endpoint::Chat, 0, 0);
        let writer = ChunkWriter::new(&req, &meta, tokens, FinishReason::Stop);
        let stream = TokenStream::new(
            Arc::new(Vocabulary::new()),
            writer,
            schedule,
            SmallRng::seed_from_u64(1),
            Instant::now(),
            shutdown,
        );
        (stream, want)
    }

    async fn arrivals(mut stream: TokenStream) -> Vec<Duration> {
        let t0 = stream.t0;
        let mut got = Vec::new();
        while let Some(frame) = stream.next().await {
            frame.expect("no shutdown");
            got.push(Instant::now() - t0);
        }
        got
    }

    #[tokio::test(start_paused = true)]
    async fn frames_leave_exactly_on_schedule() {
        let config = MockConfig {
            ttft_ms: 150.0,
            gap_ms: 12.0,
            jitter_ms: 0.0,
            ..MockConfig::default()
        };
        let (stream, want) = make(&config, 40, Box::pin(std::future::pending()));
        assert_eq!(want[0], Duration::from_millis(150));
        assert_eq!(arrivals(stream).await, want);
    }

    #[tokio::test(start_paused = true)]
    async fn jittered_frames_follow_their_schedule() {
        let config = MockConfig {
            ttft_ms: 20.0,
            gap_ms: 5.0,
            jitter_ms: 4.0,
            seed: 11,
            ..MockConfig::default()
        };
        let (stream, want) = make(&config, 100, Box::pin(std::future::pending()));
        let got = arrivals(stream).await;
        assert_eq!(got.len(), want.len());
        for (i, (got, want)) in got.iter().zip(&want).enumerate() {
            // Offsets have sub-ms parts; the timer releases at the next tick.
            assert!(*got >= *want, "frame {i} early: {got:?} < {want:?}");
            assert!(
                *got - *want < Duration::from_millis(1),
                "frame {i} late: {got:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sub_millisecond_gaps_keep_the_average_rate() {
        let config = MockConfig {
            ttft_ms: 0.0,
            gap_ms: 0.25,
            ..MockConfig::default()
        };
        let (stream, want) = make(&config, 401, Box::pin(std::future::pending()));
        let got = arrivals(stream).await;
        assert_eq!(want[400], Duration::from_millis(100));
        assert_eq!(
            got[400],
            Duration::from_millis(100),
            "no drift over 400 gaps"
        );
        assert!(got.windows(2).all(|w| w[0] <= w[1]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_consumer_does_not_shift_later_frames() {
        let config = MockConfig {
            ttft_ms: 10.0,
            gap_ms: 10.0,
            ..MockConfig::default()
        };
        let (mut stream, want) = make(&config, 5, Box::pin(std::future::pending()));
        let t0 = stream.t0;
        stream.next().await.expect("frame").expect("ok");
        // Stall past frames 1 and 2; they then come at once, and frame 3
        // still leaves at its own time.
        tokio::time::sleep(Duration::from_millis(25)).await;
        stream.next().await.expect("frame").expect("ok");
        stream.next().await.expect("frame").expect("ok");
        assert_eq!(Instant::now() - t0, Duration::from_millis(35));
        stream.next().await.expect("frame").expect("ok");
        assert_eq!(Instant::now() - t0, want[3]);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_cuts_the_stream_with_an_error() {
        let (tx, rx) = watch::channel(false);
        let config = MockConfig {
            ttft_ms: 10.0,
            gap_ms: 1000.0,
            ..MockConfig::default()
        };
        let (mut stream, _) = make(&config, 10, shutdown_signal(rx));
        stream.next().await.expect("frame").expect("first frame");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send_replace(true);
        });
        let cut = stream.next().await.expect("an item");
        assert!(cut.is_err());
        assert!(stream.next().await.is_none(), "nothing after the cut");
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_stream_starts_its_schedule_when_it_gets_a_slot() {
        let load = Load::new(Some(1));
        let held = load.try_admit().expect("the only slot");
        let config = MockConfig {
            ttft_ms: 50.0,
            gap_ms: 10.0,
            ..MockConfig::default()
        };
        let (stream, _) = make(&config, 3, Box::pin(std::future::pending()));
        let stream = stream.with_start(load.start());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(held);
        });
        let got = arrivals(stream).await;
        assert_eq!(got, [250, 260, 270].map(Duration::from_millis));
        assert_eq!(load.running(), 0, "the slot is freed at the end");
    }

    #[tokio::test(start_paused = true)]
    async fn each_gap_follows_the_running_count_when_it_is_scheduled() {
        let load = Load::new(None);
        let others = [load.try_admit(), load.try_admit()];
        let config = MockConfig {
            ttft_ms: 10.0,
            gap_ms: 10.0,
            gap_ms_per_running: 5.0,
            ..MockConfig::default()
        };
        let (stream, _) = make(&config, 3, Box::pin(std::future::pending()));
        let stream = stream.with_start(load.start());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(25)).await;
            drop(others);
        });
        // Token 1 is scheduled at 10 ms with 3 running: 10 + 2 * 5 = 20 ms
        // later; token 2 at 30 ms, alone again: 10 ms later.
        let got = arrivals(stream).await;
        assert_eq!(got, [10, 30, 40].map(Duration::from_millis));
    }

    #[tokio::test(start_paused = true)]
    async fn frames_carry_the_whole_response() {
        let (stream, _) = make(&MockConfig::default(), 6, Box::pin(std::future::pending()));
        let frames: Vec<Bytes> = stream.map(|f| f.expect("ok")).collect().await;
        assert_eq!(frames.len(), 6);
        let body: Vec<u8> = frames.concat();
        let body = String::from_utf8(body).expect("utf8");
        assert!(body.ends_with("data: [DONE]\n\n"));
        assert_eq!(body.matches("\"finish_reason\":\"stop\"").count(), 1);
        assert_eq!(body.matches("\"role\":\"assistant\"").count(), 1);
    }
}
