//! The embedded mock LLM server: an OpenAI-compatible endpoint with
//! deterministic, seeded text and timing, used by `runner mock`, by
//! `scenarios/demo.yaml` (a scenario's `target.mock`) and by the tests.
//!
//! Routes: `POST /v1/chat/completions`, `POST /v1/completions` (both with
//! `"stream": true` for SSE, else one JSON body), `GET /v1/models` and
//! `GET /health`. Output length, delays and seeding follow [`MockConfig`];
//! token `i` of a response is due `ttft + i * gap` (± jitter) after its
//! request body was read, on an absolute schedule.
//!
//! A load model makes it behave like a real server under load (`load.rs`):
//! `max_batch` decode slots, with requests past them queued first come first
//! served (their TTFT grows by the wait, counted from when they get a
//! slot), and `gap_ms_per_running`, which lengthens every gap by that much
//! per other response being generated. Unset, neither changes anything.
//!
//! Faults (`faults.rs`, `whole.rs`) are shares of requests that get an HTTP
//! 5xx or 429, a stall before the first token or mid-stream, a dropped
//! connection, a malformed event, an error event, an empty answer, bytes
//! that are not UTF-8, or one 10 MiB line: see [`MockFaults`].
//!
//! What a client can rely on:
//! - Output length is `min(output_tokens, max_tokens)` when both are set,
//!   whichever is set otherwise, else 128; `max_completion_tokens` wins over
//!   `max_tokens`. `finish_reason` is `"length"` when the output reached the
//!   request's max, else `"stop"`.
//! - `usage.prompt_tokens` is `ceil(chars / 2)` over every text part of the
//!   prompt (chars are Unicode scalar values), plus one per token id of a
//!   completions prompt given as ids, and at least 1.
//! - Each token is one SSE chunk; a chat stream opens with a
//!   `{"role":"assistant","content":""}` delta, sent with the first token.
//! - The `n`-th request a server accepts (counting from 0) is seeded by
//!   `(seed, n)`, so one seed always yields the same set of texts, delays
//!   and faults.
//! - Bad bodies get a 400 in OpenAI's `{"error": {...}}` shape naming the field.
//!
//! The mock also speaks TGI (`/generate_stream`, `/generate`), Ollama
//! (`/api/chat`, `/api/generate`, NDJSON), Anthropic (`/v1/messages`) and
//! SGLang's native `/generate` (told from TGI's by its `text` field) with
//! the same text and timing: see `native.rs` and `native_frames.rs`.
//!
//! Files: `server.rs` routes and lifecycle, `request.rs` reads OpenAI
//! requests, `response.rs` writes OpenAI chunks and bodies, `schedule.rs` the
//! pure timing, `load.rs` decode slots, `stream.rs` the timed SSE body,
//! `faults.rs` which request gets which fault and a faulty stream's bytes,
//! `whole.rs` whole answers and error answers, `text.rs` the vocabulary.

mod config;
mod faults;
mod load;
mod native;
mod native_frames;
mod request;
mod response;
mod schedule;
mod server;
mod stream;
mod text;
mod whole;

use std::net::SocketAddr;

use anyhow::Context as _;

pub use config::{MockConfig, MockFaults, MockProblem};
pub use server::{MockServer, start};

/// Flags of `runner mock`, which serves the mock until Ctrl-C.
#[derive(Debug, Clone, clap::Args)]
pub struct MockArgs {
    /// Address to listen on (an IP or a host name).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 30000)]
    pub port: u16,
    /// Time to first token in ms, counted from when the request body is read.
    #[arg(long, default_value_t = MockConfig::default().ttft_ms)]
    pub ttft_ms: f64,
    /// Gap between consecutive tokens in ms.
    #[arg(long, default_value_t = MockConfig::default().gap_ms)]
    pub gap_ms: f64,
    /// Output length in tokens (capped by the request's max_tokens); unset
    /// follows max_tokens, else 128.
    #[arg(long)]
    pub output_tokens: Option<u32>,
    /// Uniform jitter in ms added to or taken from every delay.
    #[arg(long, default_value_t = MockConfig::default().jitter_ms)]
    pub jitter_ms: f64,
    /// Seed of the jitter, of the generated text and of the faults.
    #[arg(long, default_value_t = MockConfig::default().seed)]
    pub seed: u64,
    /// Decode slots: requests past them queue (first come first served)
    /// and their TTFT grows; unset, no limit.
    #[arg(long)]
    pub max_batch: Option<u32>,
    /// Extra ms per token for each other response being generated.
    #[arg(long, default_value_t = MockConfig::default().gap_ms_per_running)]
    pub gap_ms_per_running: f64,
    /// Faults, each a share of requests from 0 to 1.
    #[command(flatten)]
    pub faults: MockFaults,
}

impl MockArgs {
    /// The server behaviour these flags ask for.
    pub fn config(&self) -> MockConfig {
        MockConfig {
            ttft_ms: self.ttft_ms,
            gap_ms: self.gap_ms,
            output_tokens: self.output_tokens,
            jitter_ms: self.jitter_ms,
            seed: self.seed,
            max_batch: self.max_batch,
            gap_ms_per_running: self.gap_ms_per_running,
            faults: self.faults.clone(),
        }
    }
}

/// Runs `runner mock`: starts the server, prints its URL and serves until
/// Ctrl-C, then stops it.
pub async fn serve(args: &MockArgs) -> anyhow::Result<()> {
    let config = args.config();
    let problems = config.problems();
    if !problems.is_empty() {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("{} {}: {}", p.flag(), p.message, p.help))
            .collect();
        anyhow::bail!("bad mock settings:\n  {}", lines.join("\n  "));
    }
    let addr = resolve(&args.host, args.port).await?;
    let server = start(config, addr)
        .await
        .with_context(|| format!("could not start the mock server on {addr}"))?;
    println!(
        "mock LLM server listening on {} (OpenAI API at {}/v1); Ctrl-C stops it",
        server.url(),
        server.url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("could not listen for Ctrl-C")?;
    eprintln!("stopping the mock server");
    server.shutdown().await;
    Ok(())
}

/// The first address `host:port` resolves to.
async fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("--host {host:?} is not an IP address or a known host name"))?;
    addrs
        .next()
        .with_context(|| format!("--host {host:?} resolved to no address; try --host 127.0.0.1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        mock: MockArgs,
    }

    #[test]
    fn defaults_match_the_config_defaults() {
        let cli = Cli::try_parse_from(["mock"]).expect("no flags needed");
        assert_eq!(cli.mock.config(), MockConfig::default());
        assert_eq!(
            (cli.mock.host.as_str(), cli.mock.port),
            ("127.0.0.1", 30000)
        );
    }

    #[test]
    fn flags_reach_the_config() {
        let cli = Cli::try_parse_from([
            "mock",
            "--port",
            "0",
            "--ttft-ms",
            "5",
            "--gap-ms",
            "1.5",
            "--output-tokens",
            "9",
            "--jitter-ms",
            "0.5",
            "--seed",
            "7",
            "--max-batch",
            "3",
            "--gap-ms-per-running",
            "0.5",
            "--error-rate",
            "0.1",
            "--error-status",
            "503",
            "--rate-limit-rate",
            "0.05",
            "--stall-first-rate",
            "0.01",
            "--stall-first-ms",
            "3000",
            "--stall-mid-rate",
            "0.02",
            "--stall-mid-ms",
            "700",
            "--drop-rate",
            "0.03",
            "--malformed-rate",
            "0.04",
            "--error-event-rate",
            "0.06",
            "--empty-rate",
            "0.07",
            "--invalid-utf8-rate",
            "0.08",
            "--huge-line-rate",
            "0.09",
        ])
        .expect("valid flags");
        let want = MockConfig {
            ttft_ms: 5.0,
            gap_ms: 1.5,
            output_tokens: Some(9),
            jitter_ms: 0.5,
            seed: 7,
            max_batch: Some(3),
            gap_ms_per_running: 0.5,
            faults: MockFaults {
                error_rate: 0.1,
                error_status: 503,
                rate_limit_rate: 0.05,
                stall_first_rate: 0.01,
                stall_first_ms: 3000.0,
                stall_mid_rate: 0.02,
                stall_mid_ms: 700.0,
                drop_rate: 0.03,
                malformed_rate: 0.04,
                error_event_rate: 0.06,
                empty_rate: 0.07,
                invalid_utf8_rate: 0.08,
                huge_line_rate: 0.09,
            },
        };
        assert_eq!(cli.mock.config(), want);
        assert_eq!(cli.mock.port, 0);
        assert!(want.problems().is_empty());
    }

    #[tokio::test]
    async fn bad_flags_are_refused_naming_the_flag() {
        let cli = Cli::try_parse_from(["mock", "--port", "0", "--drop-rate", "2"])
            .expect("parses; the range is checked at start");
        let err = serve(&cli.mock).await.expect_err("refused").to_string();
        assert!(err.contains("--drop-rate is 2: a rate"), "{err}");
        assert!(err.contains("from 0 to 1"), "{err}");
    }

    #[tokio::test]
    async fn ip_literals_resolve() {
        // IP literals only: they resolve without any name lookup.
        let addr = resolve("127.0.0.1", 0).await.expect("an IPv4 literal");
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = resolve("::1", 8).await.expect("an IPv6 literal");
        assert_eq!(addr, "[::1]:8".parse().expect("addr"));
    }
}
