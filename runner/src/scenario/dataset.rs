//! The semantic checks of `dataset:` (and `--test-set`): the file exists,
//! the format fits the keys given, lengths and ratios make sense. The file's
//! contents are checked later, by [`crate::dataset::load`], line by line.

use std::path::{Path, PathBuf};

use super::raw::{DatasetSection, FormatChoice};
use super::raw_dataset::{
    DistChoice, FieldsSection, LengthSection, OrderChoice, PrefixSection, SamplingSection,
    SyntheticSection, TurnsChoice,
};
use super::tree::{Located, Pos};
use super::validate::{Context, Place, Report};
use super::{
    DatasetFormat, DatasetSpec, FieldMap, LengthDist, Overrides, SampleOrder, Sampling,
    SharedPrefix, SyntheticSpec, Turns,
};

const DEFAULT_MAX_TOKENS: u32 = 512;
const DEFAULT_SEED: u64 = 42;
const DEFAULT_SYNTHETIC_COUNT: u32 = 1000;
/// The largest length a distribution may produce: a guard against a typo
/// (`mean: 5000000`) building gigabytes of prompts.
pub const MAX_LENGTH: u32 = 1_000_000;

/// Validates the dataset section with `--test-set` applied.
pub fn validate(
    raw: Option<Located<DatasetSection>>,
    overrides: &Overrides,
    cx: &Context<'_>,
    report: &mut Report<'_>,
) -> DatasetSpec {
    let (section, section_pos) = match raw {
        Some(located) => (located.value, Some(located.pos)),
        None => (DatasetSection::default(), None),
    };
    let default_max_tokens = match section.default_max_tokens {
        Some(n) if n.value == 0 => {
            report.at(
                n.pos,
                "`dataset.default_max_tokens` must be at least 1",
                "write the number of tokens to ask for when a line has no `MAX_TOKENS|` prefix, e.g. 512",
            );
            DEFAULT_MAX_TOKENS
        }
        Some(n) => n.value,
        None => DEFAULT_MAX_TOKENS,
    };
    // Where the format-specific keys were written, to flag them when the
    // format (given or detected) does not use them.
    // `--test-set` replaces the file, so its detected format is not held
    // against the scenario's keys.
    let flagged = overrides.test_set.is_none();
    let fields_pos = section.fields.as_ref().map(|f| f.pos).filter(|_| flagged);
    let turns_pos = section.turns.as_ref().map(|t| t.pos).filter(|_| flagged);
    let mut spec = DatasetSpec {
        default_max_tokens,
        seed: section.seed.unwrap_or(DEFAULT_SEED),
        tokenizer: section
            .tokenizer
            .and_then(|t| file_at(cx, report, &t, "tokenizer", TOKENIZER_HELP)),
        fields: fields(section.fields, report),
        turns: match section.turns.map(|t| t.value) {
            Some(TurnsChoice::All) => Turns::All,
            Some(TurnsChoice::First) | None => Turns::First,
        },
        sampling: sampling(section.sampling, report),
        ..DatasetSpec::default()
    };
    let choice = section.format.as_ref().map(|f| f.value);
    if overrides.test_set.is_none() && choice == Some(FormatChoice::Synthetic) {
        if let Some(path) = &section.path {
            report.at(
                path.pos,
                "`dataset.path` is not used by `format: synthetic`",
                "remove `path`; to draw text from your own file, set `synthetic.corpus`",
            );
        }
        spec.format = DatasetFormat::Synthetic;
        spec.synthetic = Some(synthetic(section.synthetic, section_pos, cx, report));
        return spec;
    }
    if let Some(extra) = &section.synthetic {
        report.at(
            extra.pos,
            "`dataset.synthetic` is only used by `format: synthetic`",
            "add `format: synthetic` (and remove `path`), or remove `synthetic`",
        );
    }
    let (path, choice, place) = if let Some(flag_path) = &overrides.test_set {
        (
            flag_path.clone(),
            FormatChoice::Auto,
            Place::Flag("--test-set"),
        )
    } else if let Some(path) = section.path {
        (
            cx.base.join(&path.value),
            choice.unwrap_or(FormatChoice::Auto),
            Place::At(path.pos),
        )
    } else {
        let help = "add `dataset:` with `path:` naming a test-set file (relative to the scenario's folder), or pass --test-set FILE, or use `format: synthetic`";
        match section_pos {
            Some(pos) => report.at(pos, "`dataset` has no `path`", help),
            None => report.whole("--test-set", "no test set given", help),
        }
        return spec;
    };
    spec.path = path.clone();
    if !path.is_file() {
        let relative_to = if overrides.test_set.is_some() {
            "the current directory".to_string()
        } else {
            format!("the scenario's folder `{}`", shown(cx.base))
        };
        report.place(
            &place,
            format!("test set `{}` {}", path.display(), missing(&path)),
            format!("check the path; a relative path starts from {relative_to}"),
        );
        return spec;
    }
    spec.format = match choice {
        FormatChoice::Lines => DatasetFormat::Lines,
        FormatChoice::Ceval => DatasetFormat::Ceval,
        FormatChoice::Jsonl => DatasetFormat::Jsonl,
        FormatChoice::Sharegpt => DatasetFormat::Sharegpt,
        FormatChoice::Conversations => DatasetFormat::Conversations,
        // Only reached with --test-set, which names a file.
        FormatChoice::Synthetic => DatasetFormat::Lines,
        FormatChoice::Auto => match crate::dataset::detect_format(&path) {
            Ok(format) => format,
            Err(error) => {
                report.place(
                    &place,
                    format!("cannot read test set `{}`: {error}", path.display()),
                    "check that the file is readable",
                );
                DatasetFormat::Lines
            }
        },
    };
    if let Some(pos) = fields_pos
        && spec.format != DatasetFormat::Jsonl
    {
        report.at(
            pos,
            format!(
                "`dataset.fields` is only used by `jsonl`, and this test set is `{}`",
                spec.format.name()
            ),
            "remove `fields`, or set `format: jsonl` if the file holds one JSON object per line",
        );
    }
    if let Some(pos) = turns_pos
        && spec.format != DatasetFormat::Sharegpt
    {
        report.at(
            pos,
            format!(
                "`dataset.turns` is only used by `sharegpt`, and this test set is `{}`",
                spec.format.name()
            ),
            "remove `turns`; `conversations` files always keep every turn",
        );
    }
    spec
}

const TOKENIZER_HELP: &str = "give the model's tokenizer.json: it sits beside config.json in the model folder the server loads, or in the model's repository on its hub page (Files → tokenizer.json); nothing is downloaded at run time";

/// "does not exist" or "is not a file".
fn missing(path: &Path) -> &'static str {
    if path.exists() {
        "is not a file"
    } else {
        "does not exist"
    }
}

/// A file named in the scenario, resolved and checked to exist.
fn file_at(
    cx: &Context<'_>,
    report: &mut Report<'_>,
    value: &Located<String>,
    what: &str,
    help: &str,
) -> Option<PathBuf> {
    let path = cx.base.join(&value.value);
    if path.is_file() {
        Some(path)
    } else {
        report.at(
            value.pos,
            format!("{what} `{}` {}", path.display(), missing(&path)),
            format!(
                "{help}; a relative path starts from the scenario's folder `{}`",
                shown(cx.base)
            ),
        );
        None
    }
}

/// A folder for messages: `.` rather than an empty path.
fn shown(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        ".".to_string()
    } else {
        path.display().to_string()
    }
}

fn fields(raw: Option<Located<FieldsSection>>, report: &mut Report<'_>) -> FieldMap {
    let mut map = FieldMap::default();
    let Some(raw) = raw else {
        return map;
    };
    let mut take = |value: Option<Located<String>>, key: &str, slot: &mut String| -> bool {
        let Some(value) = value else {
            return false;
        };
        let bad = value.value.split('.').any(|part| part.trim().is_empty());
        if bad {
            report.at(
                value.pos,
                format!("`fields.{key}` path `{}` has an empty part", value.value),
                "write keys separated by dots, e.g. `data.question` or `turns.0.text`",
            );
            return false;
        }
        *slot = value.value;
        true
    };
    map.explicit.prompt = take(raw.value.prompt, "prompt", &mut map.prompt);
    map.explicit.messages = take(raw.value.messages, "messages", &mut map.messages);
    take(raw.value.max_tokens, "max_tokens", &mut map.max_tokens);
    take(raw.value.output_len, "output_len", &mut map.output_len);
    map
}

fn sampling(raw: Option<Located<SamplingSection>>, report: &mut Report<'_>) -> Sampling {
    let Some(raw) = raw else {
        return Sampling::default();
    };
    let raw = raw.value;
    let limit = match raw.limit {
        Some(l) if l.value == 0 => {
            report.at(
                l.pos,
                "`sampling.limit` must be at least 1",
                "give how many items to keep, or remove `limit` to keep them all",
            );
            None
        }
        other => other.map(|l| l.value),
    };
    if let (Some(lo), Some(hi)) = (&raw.min_input, &raw.max_input)
        && lo.value > hi.value
    {
        report.at(
            hi.pos,
            format!(
                "`sampling.max_input` ({}) is below `min_input` ({})",
                hi.value, lo.value
            ),
            "no item could be kept: make `max_input` at least `min_input`",
        );
    }
    Sampling {
        order: match raw.order {
            Some(OrderChoice::Sequential) => SampleOrder::Sequential,
            Some(OrderChoice::Shuffle) => SampleOrder::Shuffle,
            Some(OrderChoice::Random) | None => SampleOrder::Random,
        },
        min_input: raw.min_input.map(|l| l.value),
        max_input: raw.max_input.map(|l| l.value),
        limit,
    }
}

fn synthetic(
    raw: Option<Located<SyntheticSection>>,
    section_pos: Option<Pos>,
    cx: &Context<'_>,
    report: &mut Report<'_>,
) -> SyntheticSpec {
    let fallback = SyntheticSpec {
        count: DEFAULT_SYNTHETIC_COUNT,
        input: LengthDist::Fixed(128),
        output: LengthDist::Fixed(DEFAULT_MAX_TOKENS),
        prefix: None,
        corpus: None,
    };
    let Some(raw) = raw else {
        report.at(
            section_pos.unwrap_or(Pos { line: 1, col: 1 }),
            "`format: synthetic` needs a `synthetic` section",
            "add e.g. `synthetic: { count: 1000, input: { dist: normal, mean: 512, std: 64 }, output: { mean: 128 } }`",
        );
        return fallback;
    };
    let raw_pos = raw.pos;
    let raw = raw.value;
    let count = match raw.count {
        Some(c) if c.value == 0 => {
            report.at(
                c.pos,
                "`synthetic.count` must be at least 1",
                "give how many prompts to generate",
            );
            DEFAULT_SYNTHETIC_COUNT
        }
        other => other.map_or(DEFAULT_SYNTHETIC_COUNT, |c| c.value),
    };
    let input = match raw.input {
        Some(input) => length(input, "synthetic.input", report).unwrap_or(fallback.input),
        None => {
            report.at(
                raw_pos,
                "`synthetic` has no `input` length",
                "add e.g. `input: { dist: normal, mean: 512, std: 64 }` (tokens with a tokenizer, chars without)",
            );
            fallback.input
        }
    };
    let output = match raw.output {
        Some(output) => length(output, "synthetic.output", report).unwrap_or(fallback.output),
        None => LengthDist::Fixed(DEFAULT_MAX_TOKENS),
    };
    SyntheticSpec {
        count,
        input,
        output,
        prefix: raw.prefix.and_then(|p| prefix(p, report)),
        corpus: raw.corpus.and_then(|c| {
            file_at(
                cx,
                report,
                &c,
                "corpus",
                "name a UTF-8 text file, or remove `corpus` to use the shipped one",
            )
        }),
    }
}

fn prefix(raw: Located<PrefixSection>, report: &mut Report<'_>) -> Option<SharedPrefix> {
    let length = match raw.value.length {
        Some(l) if l.value == 0 || l.value > MAX_LENGTH => {
            report.at(
                l.pos,
                format!("`prefix.length` must be from 1 to {MAX_LENGTH}"),
                "give the shared prefix's length, in the unit of `input`",
            );
            return None;
        }
        Some(l) => l.value,
        None => {
            report.at(
                raw.pos,
                "`prefix` has no `length`",
                "add e.g. `prefix: { length: 256, ratio: 0.5 }`",
            );
            return None;
        }
    };
    let ratio = match raw.value.ratio {
        Some(r) if !(0.0..=1.0).contains(&r.value) => {
            report.at(
                r.pos,
                format!("`prefix.ratio` {} is not between 0 and 1", r.value),
                "give the fraction of prompts that share the prefix, e.g. 0.5",
            );
            return None;
        }
        Some(r) => r.value,
        None => 1.0,
    };
    Some(SharedPrefix { length, ratio })
}

/// Checks one length distribution; `None` (after a report) when it is bad.
pub(super) fn length(
    raw: Located<LengthSection>,
    key: &str,
    report: &mut Report<'_>,
) -> Option<LengthDist> {
    let pos = raw.pos;
    let raw = raw.value;
    let dist = raw.dist.as_ref().map_or(DistChoice::Fixed, |d| d.value);
    let min = raw.min.as_ref().map_or(1, |m| m.value);
    let max = raw.max.as_ref().map_or(MAX_LENGTH, |m| m.value);
    let mut ok = true;
    if min == 0 {
        report.at(
            raw.min.as_ref().map_or(pos, |m| m.pos),
            format!("`{key}.min` must be at least 1"),
            "a prompt or reply needs at least 1 unit",
        );
        ok = false;
    }
    if max > MAX_LENGTH || max < min {
        report.at(
            raw.max.as_ref().map_or(pos, |m| m.pos),
            format!("`{key}.max` must be from `min` ({min}) to {MAX_LENGTH}"),
            "raise `max` or lower `min`",
        );
        ok = false;
    }
    let mut need = |name: &str, value: &Option<Located<f64>>, least: f64| -> f64 {
        match value {
            Some(v)
                if v.value.is_finite() && v.value >= least && v.value <= f64::from(MAX_LENGTH) =>
            {
                v.value
            }
            Some(v) => {
                report.at(
                    v.pos,
                    format!("`{key}.{name}` {} is out of range", v.value),
                    format!("give a number from {least} to {MAX_LENGTH}"),
                );
                ok = false;
                least
            }
            None => {
                report.at(
                    pos,
                    format!("`{key}` ({}) needs `{name}`", dist_name(dist)),
                    "e.g. `{ dist: normal, mean: 512, std: 64 }`",
                );
                ok = false;
                least
            }
        }
    };
    let result = match dist {
        DistChoice::Fixed => {
            let mean = need("mean", &raw.mean, 1.0);
            LengthDist::Fixed(mean.round() as u32)
        }
        DistChoice::Uniform => {
            if raw.min.is_none() || raw.max.is_none() {
                report.at(
                    pos,
                    format!("`{key}` (uniform) needs `min` and `max`"),
                    "e.g. `{ dist: uniform, min: 100, max: 1000 }`",
                );
                ok = false;
            }
            LengthDist::Uniform { min, max }
        }
        DistChoice::Normal => LengthDist::Normal {
            mean: need("mean", &raw.mean, 1.0),
            std: need("std", &raw.std, 0.0),
            min,
            max,
        },
        DistChoice::Lognormal => LengthDist::Lognormal {
            mean: need("mean", &raw.mean, 1.0),
            std: need("std", &raw.std, 0.0),
            min,
            max,
        },
    };
    ok.then_some(result)
}

fn dist_name(dist: DistChoice) -> &'static str {
    match dist {
        DistChoice::Fixed => "fixed",
        DistChoice::Uniform => "uniform",
        DistChoice::Normal => "normal",
        DistChoice::Lognormal => "lognormal",
    }
}
