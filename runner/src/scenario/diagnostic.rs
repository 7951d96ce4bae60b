//! Errors in user input, as data: where (a file position or a flag), what, and
//! how to fix it. Every stage collects them into one [`Diagnostics`] so the
//! user sees all problems at once instead of fixing them one run at a time.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file, optionally narrowed to a line and a column (both 1-based).
    File {
        /// The file as the user named it (relative paths stay relative, so
        /// the message matches what they typed).
        path: PathBuf,
        /// 1-based line, when the problem has one.
        line: Option<u32>,
        /// 1-based column (in characters), when the problem has one.
        col: Option<u32>,
    },
    /// A command-line flag such as `--test-set`.
    Flag(String),
}

/// One problem with a location, a message and, usually, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub origin: Origin,
    /// What is wrong, in one line.
    pub message: String,
    /// How to fix it, when we can say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem at `line:col` of `path`.
    pub fn at(path: &Path, line: u32, col: u32, message: impl Into<String>) -> Self {
        Self::new(
            Origin::File {
                path: path.to_path_buf(),
                line: Some(line),
                col: Some(col),
            },
            message,
        )
    }

    /// A problem on one line of `path` (test-set lines have no useful column).
    pub fn at_line(path: &Path, line: u32, message: impl Into<String>) -> Self {
        Self::new(
            Origin::File {
                path: path.to_path_buf(),
                line: Some(line),
                col: None,
            },
            message,
        )
    }

    /// A problem with the file as a whole (missing, unreadable, empty).
    pub fn in_file(path: &Path, message: impl Into<String>) -> Self {
        Self::new(
            Origin::File {
                path: path.to_path_buf(),
                line: None,
                col: None,
            },
            message,
        )
    }

    /// A problem with the value of a command-line flag (`--test-set`).
    pub fn flag(flag: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Origin::Flag(flag.into()), message)
    }

    fn new(origin: Origin, message: impl Into<String>) -> Self {
        Diagnostic {
            origin,
            message: message.into(),
            help: None,
        }
    }

    /// Adds the fix.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The line, when the origin has one.
    pub fn line(&self) -> Option<u32> {
        match &self.origin {
            Origin::File { line, .. } => *line,
            Origin::Flag(_) => None,
        }
    }

    /// The column, when the origin has one.
    pub fn col(&self) -> Option<u32> {
        match &self.origin {
            Origin::File { col, .. } => *col,
            Origin::Flag(_) => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, col } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                    if let Some(col) = col {
                        write!(f, ":{col}")?;
                    }
                }
                Ok(())
            }
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// Prints `ORIGIN: error: MESSAGE`, then `  help: FIX` on its own line: the
/// shape compilers use, so editors and terminals make the location clickable.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.origin, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one input, in the order found. Never empty when
/// returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Adds every problem of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems, in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was found, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One block per problem, separated by blank lines.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let p = Path::new("a/b.yaml");
        let d = Diagnostic::at(p, 3, 7, "bad").with_help("fix it");
        assert_eq!(d.to_string(), "a/b.yaml:3:7: error: bad\n  help: fix it");
        assert_eq!(
            Diagnostic::at_line(p, 4, "x").to_string(),
            "a/b.yaml:4: error: x"
        );
        assert_eq!(
            Diagnostic::in_file(p, "x").to_string(),
            "a/b.yaml: error: x"
        );
        assert_eq!(
            Diagnostic::flag("--test-set", "missing").to_string(),
            "--test-set: error: missing"
        );
        let all = Diagnostics(vec![
            Diagnostic::in_file(p, "one"),
            Diagnostic::in_file(p, "two"),
        ]);
        assert_eq!(
            all.to_string(),
            "a/b.yaml: error: one\n\na/b.yaml: error: two"
        );
    }
}
