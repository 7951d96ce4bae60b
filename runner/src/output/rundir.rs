//! The run folder and the files written into it. A folder is never reused:
//! a name that exists gets a `-2`, `-3`, ... suffix. Whole files are written
//! through a temporary file and a rename, so a crash never leaves half a
//! results.json.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::sample::Sample;

/// Makes `WORK_DIR/output/<name>-<stamp>/` (or with a numeric suffix when
/// that exists) and returns it. `name` is made safe for a file name.
pub fn create_run_dir(work_dir: &Path, name: &str, stamp: &str) -> io::Result<PathBuf> {
    let parent = work_dir.join("output");
    fs::create_dir_all(&parent)?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = format!("{safe}-{stamp}");
    for n in 1..10_000 {
        let dir = if n == 1 {
            parent.join(&base)
        } else {
            parent.join(format!("{base}-{n}"))
        };
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("too many runs named {base} in {}", parent.display()),
    ))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Replaces every secret in `text` with `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// `requests.jsonl`: one JSON line per request, appended as the run goes.
pub struct RequestLog {
    out: BufWriter<File>,
    lines: u64,
}

impl RequestLog {
    /// Creates the file.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(RequestLog {
            out: BufWriter::with_capacity(256 << 10, File::create(path)?),
            lines: 0,
        })
    }

    /// Appends one sample.
    pub fn write(&mut self, s: &Sample) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, s)?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    /// Pushes buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Lines written.
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_never_collide() {
        let tmp = tempfile::tempdir().unwrap();
        let a = create_run_dir(tmp.path(), "my run/1", "20260101-000000").unwrap();
        let b = create_run_dir(tmp.path(), "my run/1", "20260101-000000").unwrap();
        assert_ne!(a, b);
        assert!(a.ends_with("output/my_run_1-20260101-000000"));
        assert!(b.ends_with("output/my_run_1-20260101-000000-2"));
    }

    #[test]
    fn atomic_write_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("results.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn redacts_secrets() {
        assert_eq!(
            redact(
                "Bearer sk-123 and sk-123",
                &["sk-123".into(), String::new()]
            ),
            "Bearer *** and ***"
        );
    }
}
