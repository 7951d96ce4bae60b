//! `synthetic`: prompts of drawn lengths, cut from real text.
//!
//! Lengths come from a seeded [`LengthDist`]; the text is a window of the
//! corpus (the shipped Chinese and English prose, or the scenario's file)
//! starting at a random paragraph and wrapping at the end. With a tokenizer
//! the window is cut where the wanted token ends; without one, after the
//! wanted number of chars. The item's `input_len` is then measured on the
//! final text like any other dataset's, so reports show what was sent, not
//! what was asked for.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Item, Prompt};
use crate::scenario::{LengthDist, SyntheticSpec};
use crate::tokenizer::Tokenizer;

/// The shipped corpus: Chinese and English prose written for this project.
pub const BUILTIN_CORPUS: &str = include_str!("../../../resources/corpus.txt");

/// Draws one length from `dist`.
pub fn draw(dist: &LengthDist, rng: &mut SmallRng) -> u32 {
    let clamp = |x: f64, min: u32, max: u32| -> u32 {
        if x.is_nan() {
            return min;
        }
        x.round().clamp(f64::from(min), f64::from(max)) as u32
    };
    match *dist {
        LengthDist::Fixed(n) => n,
        LengthDist::Uniform { min, max } => rng.random_range(min..=max.max(min)),
        LengthDist::Normal {
            mean,
            std,
            min,
            max,
        } => clamp(mean + std * standard_normal(rng), min, max),
        LengthDist::Lognormal {
            mean,
            std,
            min,
            max,
        } => {
            // Parameters of the underlying normal so that the lengths
            // themselves have this mean and deviation.
            let sigma2 = (1.0 + (std * std) / (mean * mean)).ln();
            let mu = mean.ln() - sigma2 / 2.0;
            clamp((mu + sigma2.sqrt() * standard_normal(rng)).exp(), min, max)
        }
    }
}

/// One standard normal draw (Box–Muller).
fn standard_normal(rng: &mut SmallRng) -> f64 {
    // 1 - [0, 1) is (0, 1], so the log is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The corpus as one text with paragraph starts, read cyclically.
pub struct Corpus {
    text: String,
    /// Byte offsets where paragraphs start.
    starts: Vec<usize>,
}

impl Corpus {
    /// Splits `raw` into paragraphs (non-empty lines), joined by newlines.
    /// `None` when it holds no text.
    pub fn new(raw: &str) -> Option<Self> {
        let mut text = String::with_capacity(raw.len());
        let mut starts = Vec::new();
        for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
            starts.push(text.len());
            text.push_str(line);
            text.push('\n');
        }
        if starts.is_empty() {
            None
        } else {
            Some(Corpus { text, starts })
        }
    }

    /// `chars` chars from paragraph `start`, wrapping past the end.
    fn window(&self, start: usize, chars: usize) -> String {
        let mut out = String::new();
        let mut taken = 0;
        let mut from = self.starts[start % self.starts.len()];
        // Bounded: every pass takes at least one char (the text is not empty).
        while taken < chars {
            for c in self.text[from..].chars().take(chars - taken) {
                out.push(c);
                taken += 1;
            }
            from = 0;
        }
        out
    }

    /// Text of `length` units (tokens with a tokenizer, chars without) from
    /// paragraph `start` (wrapping past the last).
    pub fn text(
        &self,
        start: usize,
        length: u32,
        tokenizer: Option<&Tokenizer>,
    ) -> Result<String, String> {
        let length = length as usize;
        let Some(tokenizer) = tokenizer else {
            return Ok(self.window(start, length).trim_start().to_string());
        };
        // Real tokenizers hold 1 to 4 chars per token; start at 4 and grow
        // the window until it holds enough tokens (at most 6 doublings).
        let mut chars = length * 4 + 16;
        for _ in 0..6 {
            let window = self.window(start, chars);
            let cut = tokenizer.prefix(&window, length)?;
            if cut.len() < window.len() {
                return Ok(cut.to_string());
            }
            chars *= 2;
        }
        Err(format!(
            "the tokenizer found fewer than {length} tokens in {chars} chars of the corpus"
        ))
    }
}

/// Generates the items of `spec` from `corpus`.
pub fn generate(
    spec: &SyntheticSpec,
    corpus: &Corpus,
    tokenizer: Option<&Tokenizer>,
    seed: u64,
) -> Result<Vec<Item>, String> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let shared = match spec.prefix {
        Some(prefix) => {
            let start = rng.random_range(0..corpus.starts.len());
            Some((corpus.text(start, prefix.length, tokenizer)?, prefix.ratio))
        }
        None => None,
    };
    let mut items = Vec::with_capacity(spec.count as usize);
    for _ in 0..spec.count {
        let input = draw(&spec.input, &mut rng);
        let output = draw(&spec.output, &mut rng);
        let start = rng.random_range(0..corpus.starts.len());
        let body = corpus.text(start, input, tokenizer)?;
        let text = match &shared {
            Some((prefix, ratio)) if rng.random::<f64>() < *ratio => format!("{prefix}\n{body}"),
            _ => body,
        };
        items.push(Item {
            prompt: Prompt::Text(text),
            max_tokens: output.max(1),
            input_len: 0,
            output_len: Some(output.max(1)),
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn distributions_have_their_moments() {
        let mut rng = SmallRng::seed_from_u64(7);
        let draws = |dist: LengthDist, rng: &mut SmallRng| -> Vec<f64> {
            (0..20_000).map(|_| f64::from(draw(&dist, rng))).collect()
        };
        let (m, s) = stats(&draws(LengthDist::Fixed(33), &mut rng));
        assert_eq!((m, s), (33.0, 0.0));
        let u = draws(LengthDist::Uniform { min: 10, max: 20 }, &mut rng);
        assert!(u.iter().all(|&x| (10.0..=20.0).contains(&x)));
        let (m, _) = stats(&u);
        assert!((m - 15.0).abs() < 0.2, "{m}");
        let big = u32::MAX;
        let (m, s) = stats(&draws(
            LengthDist::Normal {
                mean: 500.0,
                std: 50.0,
                min: 1,
                max: big,
            },
            &mut rng,
        ));
        assert!((m - 500.0).abs() < 2.0 && (s - 50.0).abs() < 2.0, "{m} {s}");
        let (m, s) = stats(&draws(
            LengthDist::Lognormal {
                mean: 300.0,
                std: 150.0,
                min: 1,
                max: big,
            },
            &mut rng,
        ));
        assert!(
            (m - 300.0).abs() < 6.0 && (s - 150.0).abs() < 10.0,
            "{m} {s}"
        );
        let clamped = draws(
            LengthDist::Normal {
                mean: 10.0,
                std: 100.0,
                min: 5,
                max: 15,
            },
            &mut rng,
        );
        assert!(clamped.iter().all(|&x| (5.0..=15.0).contains(&x)));
    }

    #[test]
    fn char_lengths_are_exact_and_seeded() {
        let corpus = Corpus::new(BUILTIN_CORPUS).unwrap();
        let spec = SyntheticSpec {
            count: 50,
            input: LengthDist::Uniform { min: 1, max: 3000 },
            output: LengthDist::Fixed(16),
            prefix: None,
            corpus: None,
        };
        let a = generate(&spec, &corpus, None, 1).unwrap();
        let b = generate(&spec, &corpus, None, 1).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, generate(&spec, &corpus, None, 2).unwrap());
        let mut rng = SmallRng::seed_from_u64(1);
        for item in &a {
            let want = draw(&spec.input, &mut rng) as usize;
            let _ = draw(&spec.output, &mut rng);
            let _ = rng.random_range(0..corpus.starts.len());
            let Prompt::Text(text) = &item.prompt else {
                panic!("synthetic prompts are text");
            };
            // The window may start with a newline that is trimmed.
            let got = text.chars().count();
            assert!(got == want || got + 1 == want, "{got} vs {want}");
            assert_eq!(item.max_tokens, 16);
        }
        assert!(Corpus::new(" \n\n").is_none());
    }
}
