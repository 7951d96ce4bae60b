//! Durations as people write them in a scenario: `500ms`, `1.5s`, `2m`, `1h`,
//! or a bare number of seconds. Parsed exactly (decimal, not through `f64`),
//! so `0.3s` is 300 ms and not 299.999 ms.

use std::time::Duration;

/// The fix shown for every bad duration.
pub const HELP: &str =
    "write a number and a unit: `500ms`, `10s`, `1.5m`, `2h`; a bare number means seconds";

/// Parses a duration, or says why it is not one.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let unit_nanos: u128 = match unit {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return Err(format!("invalid duration `{text}`")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || whole.contains('.') || fraction.contains('.') || number.ends_with('.') {
        return Err(format!("invalid duration `{text}`"));
    }
    let too_long = || format!("duration `{text}` is too long");
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(too_long)?;
    // Digits past the nanosecond add nothing; cap them so the power fits.
    let fraction = &fraction[..fraction.len().min(18)];
    if !fraction.is_empty() {
        let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(18));
        let part: u128 = fraction
            .parse()
            .map_err(|_| format!("invalid duration `{text}`"))?;
        nanos = nanos
            .checked_add(part * unit_nanos / scale)
            .ok_or_else(too_long)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            ("0.3s", Duration::from_millis(300)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("10", Duration::from_secs(10)),
            ("2.25", Duration::from_millis(2250)),
            (" 7s ", Duration::from_secs(7)),
            ("0s", Duration::ZERO),
            ("1.0000000001s", Duration::new(1, 0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejected_forms() {
        for text in [
            "10 seconds",
            "10 s",
            "s",
            "",
            "-1s",
            "1.s",
            ".5s",
            "1..5s",
            "1.2.3s",
            "5d",
            "10sec",
            "1e3",
            "ms10",
            "true",
        ] {
            assert!(parse(text).is_err(), "{text:?} should be rejected");
        }
        assert!(
            parse("99999999999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }
}
