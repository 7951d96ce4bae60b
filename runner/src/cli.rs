//! Command-line interface: `runner run | validate | schema | mock | plugin |
//! report | compare | calibrate`.
//! `main` stays short; each subcommand is one function here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::mock::MockArgs;
use crate::plugin;
use crate::run::{self, RunError, RunOptions};
use crate::scenario::{self, Lang, Overrides};

/// Load tester for multi-user LLM inference services.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a benchmark scenario.
    Run(RunArgs),
    /// Check a scenario file and report every problem, without sending anything.
    Validate {
        /// The scenario file.
        scenario: PathBuf,
    },
    /// Print the JSON Schema of scenario files (or of results.json).
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value = "scenario")]
        of: SchemaOf,
    },
    /// Serve the embedded mock LLM server (OpenAI-compatible).
    Mock(MockArgs),
    /// Protocol plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Re-render a run's reports (report.md, report.html, summary.csv) from
    /// its results.json, without re-running.
    Report(crate::cli_report::ReportArgs),
    /// Compare two runs level by level; exit 1 when a --fail-if gate trips.
    Compare(crate::cli_report::CompareArgs),
    /// Measure the runner's own ceiling (streams, chunks/s) and added
    /// latency against the in-process mock.
    Calibrate(CalibrateArgs),
}

/// `runner calibrate`: the scenario's highest level and chunk rate, or the
/// flags alone.
#[derive(Debug, Args)]
struct CalibrateArgs {
    /// A scenario file: its highest level of users and its mock's chunk
    /// rate (50/s for a real server) are the defaults.
    scenario: Option<PathBuf>,
    /// Concurrent streams. Default: the scenario's highest level, else 100.
    #[arg(long)]
    users: Option<u32>,
    /// Chunks per second of each stream (the mock's gap is 1 / this).
    /// Default: the scenario mock's 1000 / gap_ms, else 50.
    #[arg(long, value_name = "CHUNKS_PER_S")]
    chunk_rate: Option<f64>,
    /// How long the streams run (`5s`, `500ms`).
    #[arg(long, default_value = "5s")]
    duration: String,
    /// Print results as JSON (the `calibration` object of results.json).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// List the built-in plugins and those in the plugin folder
    /// ($LLM_PERF_PLUGIN_DIR, else ./plugins), with their versions.
    List,
    /// Create a new plugin crate from the template.
    New(plugin::sdk::NewArgs),
    /// Load a built plugin, exercise it on samples and a fixture, and report
    /// every problem (exit 1 when there are some).
    Check(plugin::sdk::CheckArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaOf {
    /// Scenario files.
    Scenario,
    /// results.json.
    Results,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LangArg {
    Zh,
    En,
}

/// `runner run`: a scenario file, and the original tool's flags as overrides.
#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario file. Without one, the flags alone describe the run
    /// (then --url is required).
    scenario: Option<PathBuf>,
    /// Identifier of the benchmark (names the output folder).
    #[arg(long = "name", value_name = "TEST_NAME")]
    name: Option<String>,
    /// Description of this benchmark run.
    #[arg(long = "desc", value_name = "TEST_DESCRIPTION")]
    desc: Option<String>,
    /// Working directory: results go to WORK_DIR/output/.
    #[arg(long = "work-dir", value_name = "WORK_DIR")]
    work_dir: Option<PathBuf>,
    /// Path of the test set (plain lines or ceval format, detected).
    #[arg(long = "test-set", value_name = "TEST_SET_PATH")]
    test_set: Option<PathBuf>,
    /// Length of each test run (level) in seconds.
    #[arg(long = "test-duration", value_name = "TEST_DURATION")]
    test_duration: Option<u64>,
    /// Concurrent users of each test run (level).
    #[arg(long = "test-runs", value_name = "NUM_USERS", num_args = 1..)]
    test_runs: Option<Vec<u32>>,
    /// Send to this server instead of the scenario's target.
    #[arg(long)]
    url: Option<String>,
    /// Language of the live line.
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Hide the progress bars (live lines still print).
    #[arg(long)]
    quiet: bool,
    /// Report templates here replace the built-in ones of the same name.
    #[arg(long, value_name = "DIR")]
    template_dir: Option<PathBuf>,
}

impl RunArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            name: self.name.clone(),
            description: self.desc.clone(),
            work_dir: self.work_dir.clone(),
            test_set: self.test_set.clone(),
            test_duration: self.test_duration,
            test_runs: self.test_runs.clone(),
            url: self.url.clone(),
            lang: self.lang.map(|l| match l {
                LangArg::Zh => Lang::Zh,
                LangArg::En => Lang::En,
            }),
        }
    }
}

/// Runs the command line; returns the process exit code (0 ok, 1 failure,
/// 2 bad input).
pub fn main_with(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Validate { scenario } => cmd_validate(&scenario),
        Command::Schema { of } => {
            match of {
                SchemaOf::Scenario => print!("{}", scenario::json_schema()),
                SchemaOf::Results => print!("{}", crate::results::json_schema()),
            }
            ExitCode::SUCCESS
        }
        Command::Mock(args) => runtime_then(|| async move { crate::mock::serve(&args).await }),
        Command::Plugin(PluginCommand::List) => plugin::sdk::cmd_list(),
        Command::Plugin(PluginCommand::New(args)) => plugin::sdk::cmd_new(&args),
        Command::Plugin(PluginCommand::Check(args)) => plugin::sdk::cmd_check(&args),
        Command::Report(args) => crate::cli_report::cmd_report(args),
        Command::Compare(args) => crate::cli_report::cmd_compare(args),
        Command::Calibrate(args) => cmd_calibrate(args),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn runtime_then<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    match runtime()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(f()))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_scenario(args: &RunArgs) -> Result<scenario::Scenario, scenario::Diagnostics> {
    let ov = args.overrides();
    match &args.scenario {
        Some(path) => scenario::load(path, &ov),
        None => scenario::from_overrides(&ov),
    }
}

fn cmd_validate(path: &Path) -> ExitCode {
    match scenario::load(path, &Overrides::default()) {
        Ok(sc) => {
            let phases: Vec<String> = sc.load.phases.iter().map(|p| p.describe()).collect();
            println!(
                "{}: ok ({} phase{}: {})",
                path.display(),
                phases.len(),
                if phases.len() == 1 { "" } else { "s" },
                phases.join("; ")
            );
            ExitCode::SUCCESS
        }
        Err(d) => {
            eprintln!("{d}");
            ExitCode::from(2)
        }
    }
}

fn cmd_run(args: RunArgs) -> ExitCode {
    let sc = match load_scenario(&args) {
        Ok(sc) => sc,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(2);
        }
    };
    // Reports: English unless --lang says otherwise; templates checked now.
    let report = match crate::cli_report::run_report_options(
        args.template_dir.clone(),
        args.overrides().lang,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cancel = CancellationToken::new();
    let opts = RunOptions {
        hide_progress: args.quiet,
        cancel: cancel.clone(),
        cache_dir: plugin::default_cache_dir(),
        report,
    };
    let outcome = rt.block_on(async move {
        tokio::spawn(stop_on_signal(cancel));
        run::run(sc, opts).await
    });
    match outcome {
        Ok(out) => {
            print_summary(&out);
            ExitCode::SUCCESS
        }
        Err(RunError::Invalid(d)) => {
            eprintln!("{d}");
            ExitCode::from(2)
        }
        Err(RunError::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels the run on the first Ctrl-C or SIGTERM: users stop, in-flight
/// requests end as `cancelled`, and the files are still written.
async fn stop_on_signal(cancel: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("stopping: finishing the files (press Ctrl-C again to abort)");
    cancel.cancel();
    let _ = tokio::signal::ctrl_c().await;
    std::process::exit(130);
}

fn cmd_calibrate(args: CalibrateArgs) -> ExitCode {
    use crate::calibrate::{self, CalibrateSpec};
    let duration = match scenario::parse_duration(&args.duration) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: --duration: {e}\nhelp: {}", scenario::DURATION_HELP);
            return ExitCode::from(2);
        }
    };
    let mut spec = match &args.scenario {
        Some(path) => match scenario::load(path, &Overrides::default()) {
            Ok(sc) => CalibrateSpec::for_scenario(&sc, duration),
            Err(d) => {
                eprintln!("{d}");
                return ExitCode::from(2);
            }
        },
        None => CalibrateSpec {
            users: calibrate::DEFAULT_USERS,
            chunk_rate: calibrate::DEFAULT_CHUNK_RATE,
            duration,
            output_tokens: calibrate::DEFAULT_OUTPUT_TOKENS,
        },
    };
    spec.users = args.users.unwrap_or(spec.users);
    spec.chunk_rate = args.chunk_rate.unwrap_or(spec.chunk_rate);
    if let Err(e) = spec.check() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let json = args.json;
    runtime_then(|| async move {
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        let cal = calibrate::calibrate(&spec, plugin::default_cache_dir(), cancel).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&cal)?);
        } else {
            for line in calibrate::summary_lines(&cal) {
                println!("{line}");
            }
        }
        Ok(())
    })
}

fn print_summary(out: &run::RunOutput) {
    let r = &out.results;
    println!();
    println!(
        "{:>7} {:>12} {:>10} {:>10} {:>10} {:>12} {:>12} {:>9}",
        "users", "ok/errors", "TTFT p50", "TTFT p99", "TPOT p50", "chars/s", "achieved", "err rate"
    );
    for l in &r.levels {
        let ms = |s: Option<crate::metrics::Summary>, f: fn(&crate::metrics::Summary) -> f64| {
            s.map_or("-".to_string(), |s| format!("{:.1}ms", f(&s)))
        };
        println!(
            "{:>7} {:>12} {:>10} {:>10} {:>10} {:>12.1} {:>12} {:>8.2}%",
            l.users,
            format!("{}/{}", l.ok, l.errors),
            ms(l.ttft_ms, |s| s.p50),
            ms(l.ttft_ms, |s| s.p99),
            ms(l.tpot_ms, |s| s.p50),
            l.throughput.chars_per_s,
            format!("{:.1}/{}", l.concurrency.mean, l.concurrency.target),
            l.error_rate * 100.0
        );
    }
    if r.interrupted {
        println!("(interrupted: the figures cover what ran)");
    }
    println!();
    println!("report:  {}", out.dir.join("report.md").display());
    println!("html:    {}", out.dir.join("report.html").display());
    println!("results: {}", out.dir.join("results.json").display());
}
