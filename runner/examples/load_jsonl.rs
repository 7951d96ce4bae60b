//! Loading benchmark: writes a JSONL test set of N lines (default
//! 1,000,000) and times `dataset::load` on it. Peak memory is read with
//! `/usr/bin/time -v`:
//!
//! ```sh
//! cargo build --release --example load_jsonl
//! /usr/bin/time -v target/release/examples/load_jsonl /tmp/bench.jsonl 1000000
//! ```
//!
//! The file is written first (and reused when it already exists), so run it
//! twice to see the load alone in the peak-memory figure: the second run
//! only reads.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use runner::dataset;
use runner::scenario::{DatasetFormat, DatasetSpec};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/tmp/runner-bench.jsonl".into()),
    );
    let lines: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    if !path.exists() {
        let started = Instant::now();
        let mut out = BufWriter::new(std::fs::File::create(&path)?);
        let topics = [
            "the river",
            "a compiler",
            "the night train",
            "老街的面馆",
            "秋天的校园",
            "load testing",
        ];
        for i in 0..lines {
            let topic = topics[i % topics.len()];
            writeln!(
                out,
                r#"{{"id": {i}, "prompt": "Write a short paragraph about {topic}, number {i}, in plain words.", "max_tokens": {}, "output_len": {}, "meta": {{"source": "bench", "tags": ["a", "b"]}}}}"#,
                64 + i % 448,
                32 + i % 200
            )?;
        }
        out.flush()?;
        eprintln!("wrote {} lines in {:.2?}", lines, started.elapsed());
    }
    let size = std::fs::metadata(&path)?.len();
    let spec = DatasetSpec {
        format: DatasetFormat::Jsonl,
        path: path.clone(),
        default_max_tokens: 512,
        ..DatasetSpec::default()
    };
    let started = Instant::now();
    let data = dataset::load(&spec).map_err(|d| anyhow::anyhow!("{d}"))?;
    let took = started.elapsed();
    println!(
        "loaded {} items from {} ({:.1} MiB) in {:.3} s",
        data.items.len(),
        path.display(),
        size as f64 / (1024.0 * 1024.0),
        took.as_secs_f64()
    );
    Ok(())
}
