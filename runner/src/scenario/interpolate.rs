//! `${env:NAME}` in scenario values: replaced by the environment variable, and
//! every replaced value remembered as a secret so outputs can redact it.
//!
//! Only the `${env:` opener is special; any other `$` or `${` is kept as
//! written, so prompt templates and shell-like text in `params` pass through.

/// What a value became, and the secrets that went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    /// The value with every reference replaced.
    pub text: String,
    /// The replaced values (non-empty ones), in order.
    pub secrets: Vec<String>,
}

/// A reference that could not be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// What is wrong.
    pub message: String,
    /// The fix.
    pub help: String,
}

const OPEN: &str = "${env:";

/// Replaces every `${env:NAME}` in `text`, looking names up with `lookup`.
/// Reports every bad reference in the value, not only the first.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<Interpolated, Vec<Unresolved>> {
    let mut out = String::with_capacity(text.len());
    let mut secrets = Vec::new();
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else {
            problems.push(Unresolved {
                message: format!("`{OPEN}` is not closed"),
                help: "write `${env:NAME}` with a closing `}`".to_string(),
            });
            rest = "";
            break;
        };
        let name = &after[..end];
        rest = &after[end + 1..];
        if !is_var_name(name) {
            problems.push(Unresolved {
                message: format!("`${{env:{name}}}` does not name an environment variable"),
                help:
                    "a name is letters, digits and `_`, not starting with a digit: `${env:API_KEY}`"
                        .to_string(),
            });
            continue;
        }
        match lookup(name) {
            Ok(value) => {
                out.push_str(&value);
                if !value.is_empty() && !secrets.contains(&value) {
                    secrets.push(value);
                }
            }
            Err(std::env::VarError::NotPresent) => problems.push(Unresolved {
                message: format!("environment variable `{name}` is not set"),
                help: format!(
                    "set it before running (`export {name}=...`), or write the value here"
                ),
            }),
            Err(std::env::VarError::NotUnicode(_)) => problems.push(Unresolved {
                message: format!("environment variable `{name}` is not valid UTF-8"),
                help: format!("set `{name}` to a UTF-8 value"),
            }),
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(Interpolated { text: out, secrets })
    } else {
        Err(problems)
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::env::VarError;

    fn env(name: &str) -> Result<String, VarError> {
        match name {
            "KEY" => Ok("s3cret".to_string()),
            "EMPTY" => Ok(String::new()),
            _ => Err(VarError::NotPresent),
        }
    }

    #[test]
    fn replaces_and_collects_secrets() {
        let got = interpolate("Bearer ${env:KEY} ${env:KEY}${env:EMPTY} $HOME ${x}", &env).unwrap();
        assert_eq!(got.text, "Bearer s3cret s3cret $HOME ${x}");
        assert_eq!(got.secrets, vec!["s3cret".to_string()]);
        let plain = interpolate("no refs", &env).unwrap();
        assert!(plain.secrets.is_empty());
    }

    #[test]
    fn reports_every_bad_reference() {
        let problems = interpolate("${env:NOPE} ${env:1X} ${env:KEY", &env).unwrap_err();
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "environment variable `NOPE` is not set",
                "`${env:1X}` does not name an environment variable",
                "`${env:` is not closed",
            ]
        );
    }
}
