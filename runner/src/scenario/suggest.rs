//! Suggestions for unknown keys and values: the nearest valid spelling, the
//! place a misplaced key belongs, and the list of what is valid.

use super::structure::Problem;
use super::tree::{Node, shorten};

/// The problem for an unknown key `name` found at `place` ("in `target`"),
/// with the keys valid there and the places where `name` would be valid.
pub fn unknown_key(
    key: &Node,
    name: &str,
    place: &str,
    valid: &[&str],
    homes: &[String],
) -> Problem {
    let list = valid
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let help = match (nearest(name, valid.iter().copied()), homes) {
        (Some(near), _) => format!("did you mean `{near}`? valid keys here: {list}"),
        (None, [home, ..]) => format!("`{name}` belongs {home}; valid keys here: {list}"),
        (None, []) if valid.is_empty() => "remove it: this mapping takes no keys".to_string(),
        (None, []) => format!("valid keys here: {list}"),
    };
    Problem {
        pos: key.pos,
        message: format!("unknown key `{}` {}", shorten(name), place),
        help: Some(help),
    }
}

/// The candidate nearest to `word`, when near enough to be a likely typo.
/// Edit distance catches swapped and missing letters (`targte`); Jaro-Winkler
/// catches a shared beginning (`ttft` for `ttft_ms`).
pub fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .map(|c| {
            let edit = strsim::normalized_damerau_levenshtein(&lower, c);
            let prefix = strsim::jaro_winkler(&lower, c);
            (c, edit, prefix)
        })
        .filter(|(_, edit, prefix)| *edit >= 0.6 || *prefix >= 0.85)
        .max_by(|a, b| (a.1 + a.2).total_cmp(&(b.1 + b.2)))
        .map(|(c, _, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_needs_a_close_match() {
        let keys = ["target", "dataset", "load"];
        assert_eq!(nearest("targte", keys.iter().copied()), Some("target"));
        assert_eq!(nearest("Dataset", keys.iter().copied()), Some("dataset"));
        assert_eq!(nearest("zzz", keys.iter().copied()), None);
        assert_eq!(
            nearest("ttft", ["seed", "ttft_ms", "gap_ms"].into_iter()),
            Some("ttft_ms")
        );
        assert_eq!(nearest("name", ["lang", "interval"].into_iter()), None);
    }
}
