//! Token counts and synthetic prompts. The tokenizer is trained here, on the
//! shipped corpus (a small BPE), and saved as a tokenizer.json the scenario
//! names: nothing is downloaded. Synthetic lengths are checked at a fixed
//! seed by measuring the generated prompts with that tokenizer.

use std::path::{Path, PathBuf};

use runner::dataset::{self, Dataset, LengthUnit, Prompt};
use runner::scenario::{self, Diagnostics, Overrides};
use runner::tokenizer::Tokenizer;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainer};
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::{AddedToken, Tokenizer as HfTokenizer};

fn resources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../resources")
}

/// Trains a small BPE on the corpus and saves it as `dir/tok.json`.
fn train_tokenizer(dir: &Path) -> PathBuf {
    let corpus = std::fs::read_to_string(resources().join("corpus.txt")).unwrap();
    let model = BPE::builder()
        .unk_token("[UNK]".to_string())
        .build()
        .unwrap();
    let mut tk = HfTokenizer::new(model);
    tk.with_pre_tokenizer(Some(Whitespace));
    let mut trainer: TrainerWrapper = BpeTrainer::builder()
        .vocab_size(2000)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(vec![AddedToken::from("[UNK]", true)])
        .build()
        .into();
    tk.train(&mut trainer, corpus.lines()).unwrap();
    let path = dir.join("tok.json");
    tk.save(&path, false).unwrap();
    path
}

/// A scenario in a temp folder with a trained tokenizer at `tok.json`.
fn load_with(
    dataset: &str,
    files: &[(&str, &[u8])],
) -> (tempfile::TempDir, Result<Dataset, Diagnostics>) {
    let dir = tempfile::tempdir().unwrap();
    train_tokenizer(dir.path());
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        format!("target: {{ mock: {{}} }}\ndataset:\n{dataset}"),
    )
    .unwrap();
    let result =
        scenario::load(&path, &Overrides::default()).and_then(|s| dataset::load(&s.dataset));
    (dir, result)
}

fn ok(dataset: &str) -> (tempfile::TempDir, Dataset) {
    let (dir, result) = load_with(dataset, &[]);
    (dir, result.unwrap_or_else(|d| panic!("{d}")))
}

fn errors(dataset: &str) -> String {
    let (dir, result) = load_with(dataset, &[]);
    let shown = result.expect_err("refused").to_string();
    shown.replace(&format!("{}/", dir.path().display()), "")
}

fn text(prompt: &Prompt) -> &str {
    match prompt {
        Prompt::Text(t) => t,
        Prompt::Chat(_) => panic!("synthetic prompts are text"),
    }
}

fn mean_std(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let xs: Vec<f64> = xs.collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn input_lengths_are_counted_with_the_tokenizer() {
    let (dir, result) = load_with(
        "  path: set.txt\n  tokenizer: tok.json\n",
        &[(
            "set.txt",
            "The river changes colour with the seasons.\n老街上有一家开了三十多年的面馆\n"
                .as_bytes(),
        )],
    );
    let data = result.unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(data.unit, LengthUnit::Tokens);
    let tk = Tokenizer::load(&dir.path().join("tok.json")).unwrap();
    for item in &data.items {
        let n = tk.count(text(&item.prompt));
        assert!(n > 0);
        assert_eq!(item.input_len as usize, n);
    }
    // Fewer tokens than chars: the tokenizer merges what it learned.
    let first = &data.items[0];
    assert!((first.input_len as usize) < text(&first.prompt).chars().count());
    assert!(data.tokenizer.is_some(), "exposed for output counts");
}

#[test]
fn synthetic_token_lengths_follow_their_distribution() {
    let (_dir, data) = ok(
        "  format: synthetic\n  tokenizer: tok.json\n  seed: 7\n  synthetic:\n    count: 400\n    input: { dist: normal, mean: 120, std: 30 }\n    output: { dist: uniform, min: 16, max: 64 }\n",
    );
    assert_eq!(data.items.len(), 400);
    let (mean, std) = mean_std(data.items.iter().map(|i| f64::from(i.input_len)));
    assert!((mean - 120.0).abs() < 6.0, "mean {mean}");
    assert!((std - 30.0).abs() < 5.0, "std {std}");
    assert!(
        data.items
            .iter()
            .all(|i| (16..=64).contains(&i.max_tokens) && i.output_len == Some(i.max_tokens))
    );
    let (mean, _) = mean_std(data.items.iter().map(|i| f64::from(i.max_tokens)));
    assert!((mean - 40.0).abs() < 3.0, "output mean {mean}");

    let (_dir, data) = ok(
        "  format: synthetic\n  tokenizer: tok.json\n  synthetic: { count: 300, input: { dist: lognormal, mean: 200, std: 100 } }\n",
    );
    let (mean, std) = mean_std(data.items.iter().map(|i| f64::from(i.input_len)));
    assert!((mean - 200.0).abs() < 15.0, "mean {mean}");
    assert!((std - 100.0).abs() < 20.0, "std {std}");

    let (_dir, data) = ok(
        "  format: synthetic\n  tokenizer: tok.json\n  synthetic: { count: 100, input: { mean: 64 } }\n",
    );
    let off = data
        .items
        .iter()
        .filter(|i| i.input_len.abs_diff(64) > 2)
        .count();
    assert_eq!(off, 0, "a fixed length is cut where the 64th token ends");
    assert!(
        data.items.iter().all(|i| i.max_tokens == 512),
        "output defaults to default_max_tokens"
    );
}

#[test]
fn synthetic_chars_prefix_and_seed() {
    let spec = "  format: synthetic\n  seed: 11\n  synthetic:\n    count: 200\n    input: { dist: uniform, min: 50, max: 150 }\n    prefix: { length: 40, ratio: 0.5 }\n";
    let (_dir, a) = ok(spec);
    let (_dir, b) = ok(spec);
    assert_eq!(a.unit, LengthUnit::Chars);
    let prompts: Vec<&str> = a.items.iter().map(|i| text(&i.prompt)).collect();
    assert_eq!(
        prompts,
        b.items.iter().map(|i| text(&i.prompt)).collect::<Vec<_>>(),
        "seeded"
    );
    // The shared prefix: 40 chars, then a newline, on about half the prompts.
    let prefix: String = prompts
        .iter()
        .map(|p| p.chars().take(41).collect::<String>())
        .fold(std::collections::HashMap::new(), |mut m, p| {
            *m.entry(p).or_insert(0) += 1;
            m
        })
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(p, _)| p)
        .unwrap();
    assert!(prefix.ends_with('\n'));
    let shared = prompts.iter().filter(|p| p.starts_with(&prefix)).count();
    assert!(
        (80..=120).contains(&shared),
        "{shared} of 200 share the prefix"
    );
    for (p, item) in prompts.iter().zip(&a.items) {
        let body = p.strip_prefix(prefix.as_str()).unwrap_or(p).chars().count();
        assert!((50..=150).contains(&body), "{body}");
        assert_eq!(item.input_len as usize, p.chars().count());
    }
    let (_dir, c) = ok(&spec.replace("seed: 11", "seed: 12"));
    assert_ne!(text(&c.items[0].prompt), prompts[0]);
}

#[test]
fn synthetic_settings_are_checked() {
    let shown = errors(
        "  format: synthetic\n  path: x.txt\n  synthetic:\n    count: 0\n    input: { dist: uniform, min: 5 }\n    output: { dist: normal, mean: 10 }\n    prefix: { length: 8, ratio: 1.5 }\n",
    );
    let lines: Vec<&str> = shown.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(
        lines,
        [
            "s.yaml:4:9: error: `dataset.path` is not used by `format: synthetic`",
            "s.yaml:6:12: error: `synthetic.count` must be at least 1",
            "s.yaml:7:12: error: `synthetic.input` (uniform) needs `min` and `max`",
            "s.yaml:8:13: error: `synthetic.output` (normal) needs `std`",
            "s.yaml:9:33: error: `prefix.ratio` 1.5 is not between 0 and 1",
        ],
        "{shown}"
    );
    let shown = errors("  format: synthetic\n");
    assert!(
        shown.starts_with("s.yaml:3:3: error: `format: synthetic` needs a `synthetic` section"),
        "{shown}"
    );
}

#[test]
fn a_missing_tokenizer_says_where_to_get_one() {
    let shown = errors("  path: set.txt\n  tokenizer: models/qwen/tokenizer.json\n");
    assert!(shown.contains("s.yaml:4:14: error: tokenizer `"), "{shown}");
    assert!(
        shown.contains("models/qwen/tokenizer.json` does not exist"),
        "{shown}"
    );
    assert!(shown.contains("beside config.json"), "{shown}");
    assert!(shown.contains("nothing is downloaded"), "{shown}");
    // A file that is not a tokenizer.
    let (_dir, result) = load_with(
        "  path: set.txt\n  tokenizer: set.txt\n",
        &[("set.txt", b"hello\n")],
    );
    let shown = result.unwrap_err().to_string();
    assert!(
        shown.contains("set.txt: error: not a usable tokenizer.json"),
        "{shown}"
    );
}
