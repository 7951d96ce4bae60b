//! Offline token counting with a Hugging Face `tokenizer.json`.
//!
//! The scenario names the model's file (`dataset.tokenizer`); nothing is
//! ever fetched. Counts never include special tokens (BOS, chat-template
//! markers): they measure the text itself, so a prompt's count is the same
//! whichever server or template receives it.

use std::path::{Path, PathBuf};

use crate::scenario::Diagnostic;

/// Where to get a `tokenizer.json`, for error messages.
pub const WHERE_TO_GET: &str = "use the model's own tokenizer.json: it sits beside config.json in the model folder the server loads, or download it once from the model's repository (Files → tokenizer.json); the runner never fetches it";

/// A loaded tokenizer.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("path", &self.path)
            .finish()
    }
}

impl Tokenizer {
    /// Reads a `tokenizer.json`. A missing file says where to get one; a
    /// file the library cannot read says why.
    pub fn load(path: &Path) -> Result<Self, Diagnostic> {
        let bytes = std::fs::read(path).map_err(|error| {
            let what = if error.kind() == std::io::ErrorKind::NotFound {
                "does not exist".to_string()
            } else {
                format!("cannot be read: {error}")
            };
            Diagnostic::in_file(path, format!("tokenizer file {what}")).with_help(WHERE_TO_GET)
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Reads a `tokenizer.json` already in memory; `path` names it in
    /// messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, Diagnostic> {
        let inner = tokenizers::Tokenizer::from_bytes(bytes).map_err(|error| {
            Diagnostic::in_file(path, format!("not a usable tokenizer.json: {error}"))
                .with_help(WHERE_TO_GET)
        })?;
        Ok(Tokenizer {
            inner,
            path: path.to_path_buf(),
        })
    }

    /// Wraps a tokenizer built in code (tests train one on the corpus).
    pub fn from_inner(inner: tokenizers::Tokenizer, path: &Path) -> Self {
        Tokenizer {
            inner,
            path: path.to_path_buf(),
        }
    }

    /// The file it came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokens in `text`, without special tokens. A text the tokenizer
    /// cannot encode (a vocabulary with no unknown token meeting an unknown
    /// char) counts 0; use [`Tokenizer::try_count`] to see why.
    pub fn count(&self, text: &str) -> usize {
        self.try_count(text).unwrap_or(0)
    }

    /// Tokens in `text`, without special tokens, or why it cannot be encoded.
    pub fn try_count(&self, text: &str) -> Result<usize, String> {
        self.inner
            .encode_fast(text, false)
            .map(|e| e.len())
            .map_err(|e| e.to_string())
    }

    /// Token counts of many texts, encoded in parallel (used once at load).
    pub fn count_many(&self, texts: &[&str]) -> Result<Vec<usize>, String> {
        self.inner
            .encode_batch_fast(texts.to_vec(), false)
            .map(|all| all.iter().map(|e| e.len()).collect())
            .map_err(|e| e.to_string())
    }

    /// The longest start of `text` that holds at most `tokens` tokens,
    /// cut where a token ends (always on a char boundary).
    pub fn prefix<'t>(&self, text: &'t str, tokens: usize) -> Result<&'t str, String> {
        if tokens == 0 {
            return Ok("");
        }
        let encoding = self.inner.encode(text, false).map_err(|e| e.to_string())?;
        let offsets = encoding.get_offsets();
        if offsets.len() <= tokens {
            return Ok(text);
        }
        let mut end = offsets[tokens - 1].1.min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        Ok(&text[..end])
    }
}

/// A tiny word-level tokenizer for unit tests: whitespace-split words,
/// each one token (unknown words too).
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// The `tokenizer.json` text.
    pub const WHITESPACE_JSON: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":0,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"hello":1,"world":2},"unk_token":"[UNK]"}}"#;

    /// The tokenizer of [`WHITESPACE_JSON`].
    pub fn whitespace_tokenizer() -> Tokenizer {
        Tokenizer::from_bytes(WHITESPACE_JSON.as_bytes(), Path::new("whitespace.json"))
            .expect("the test tokenizer parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_says_where_to_get_one() {
        let err = Tokenizer::load(Path::new("/nonexistent/tokenizer.json")).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with("/nonexistent/tokenizer.json: error: tokenizer file does not exist"),
            "{shown}"
        );
        assert!(shown.contains("beside config.json"), "{shown}");
        let bad = Tokenizer::from_bytes(b"{\"not\": 1}", Path::new("t.json")).unwrap_err();
        assert!(
            bad.to_string()
                .starts_with("t.json: error: not a usable tokenizer.json"),
            "{bad}"
        );
    }
}
