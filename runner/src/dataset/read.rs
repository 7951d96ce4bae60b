//! Reading test-set files: the whole-file checks (missing, empty, binary,
//! UTF-16) done once up front, a streaming line reader so a large file is
//! never held in memory twice, and the collector of bad lines.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::MAX_REPORTED;
use super::parse::LineProblem;
use crate::scenario::{Diagnostic, Diagnostics};

/// How much of the file's start is checked for NUL bytes.
const SNIFF: usize = 8192;

/// Opens `path` after the whole-file checks; the UTF-8 BOM is skipped.
pub fn open(path: &Path) -> Result<BufReader<File>, Diagnostics> {
    let file = File::open(path).map_err(|error| {
        Diagnostics::from(
            Diagnostic::in_file(path, format!("cannot read the test set: {error}"))
                .with_help("check the path given as `dataset.path` or --test-set"),
        )
    })?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader
        .fill_buf()
        .map_err(|error| {
            Diagnostics::from(Diagnostic::in_file(
                path,
                format!("cannot read the test set: {error}"),
            ))
        })?
        .to_vec();
    check_head(path, &head[..head.len().min(SNIFF)])?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    Ok(reader)
}

/// Reads the whole file (for formats that are one JSON document) after the
/// same checks as [`open`].
pub fn read_all(path: &Path) -> Result<Vec<u8>, Diagnostics> {
    let mut reader = open(path)?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|error| {
        Diagnostics::from(Diagnostic::in_file(
            path,
            format!("cannot read the test set: {error}"),
        ))
    })?;
    Ok(bytes)
}

/// Empty, UTF-16 and binary files are reported once, for the whole file,
/// rather than as a wall of bad lines.
fn check_head(path: &Path, head: &[u8]) -> Result<(), Diagnostics> {
    let fail = |message: &str, help: &str| {
        Err(Diagnostics::from(
            Diagnostic::in_file(path, message.to_string()).with_help(help.to_string()),
        ))
    };
    if head.is_empty() {
        return fail(
            "the test set is empty",
            "write at least one prompt, or point `dataset.path` at another file",
        );
    }
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return fail(
            "the test set is UTF-16 text; it must be UTF-8",
            "convert it, e.g. `iconv -f UTF-16 -t UTF-8 in.txt > out.txt`, or save it as UTF-8",
        );
    }
    if head.contains(&0) {
        return fail(
            "the test set looks like a binary file (it holds NUL bytes)",
            "point `dataset.path` at a UTF-8 text file; a compressed file must be decompressed first",
        );
    }
    Ok(())
}

/// Calls `each(line_number, line)` for every line of `reader`, with the
/// line end (LF or CRLF) removed. A line that is not UTF-8 goes to
/// `problems` instead.
pub fn for_each_line(
    reader: &mut impl BufRead,
    problems: &mut Problems,
    mut each: impl FnMut(u32, &str),
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut number: u32 = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        number = number.saturating_add(1);
        let mut line = buf.as_slice();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => each(number, text),
            Err(_) => problems.push(number, LineProblem::not_utf8()),
        }
    }
}

/// Bad lines of one file: the first [`MAX_REPORTED`] kept, the rest counted.
#[derive(Debug)]
pub struct Problems {
    path: PathBuf,
    kept: Vec<(u32, LineProblem)>,
    total: usize,
}

impl Problems {
    /// An empty collector for `path`.
    pub fn new(path: &Path) -> Self {
        Problems {
            path: path.to_path_buf(),
            kept: Vec::new(),
            total: 0,
        }
    }

    /// Records a bad line.
    pub fn push(&mut self, line: u32, problem: LineProblem) {
        self.total += 1;
        if self.kept.len() < MAX_REPORTED {
            self.kept.push((line, problem));
        }
    }

    /// Adds the problems of `other` (same file), keeping the first lines.
    pub fn merge(&mut self, other: Problems) {
        self.total += other.total;
        self.kept.extend(other.kept);
        self.kept.sort_by_key(|(line, _)| *line);
        self.kept.truncate(MAX_REPORTED);
    }

    /// Whether no line was bad.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The report: each kept line, then "and N more".
    pub fn into_diagnostics(self) -> Diagnostics {
        let mut diagnostics = Diagnostics::default();
        for (number, problem) in self.kept {
            diagnostics.push(
                Diagnostic::at_line(&self.path, number, problem.message).with_help(problem.help),
            );
        }
        if self.total > MAX_REPORTED {
            let more = self.total - MAX_REPORTED;
            diagnostics.push(
                Diagnostic::in_file(&self.path, format!("and {more} more bad lines"))
                    .with_help("fix the lines above, then run again to list the rest"),
            );
        }
        diagnostics
    }
}

/// An I/O error in the middle of a file.
pub fn io_error(path: &Path, error: &std::io::Error) -> Diagnostics {
    Diagnostic::in_file(path, format!("cannot read the test set: {error}")).into()
}
