//! Text checks that several resources share, with the pattern that states
//! each one in the OpenAPI document, side by side so they cannot drift.

use super::error::FieldError;

/// A title as [`check_title`] accepts it, as a JSON Schema pattern: no
/// control character (Unicode Cc) anywhere, and at least one character that
/// is neither a control nor white space (Unicode White_Space).
pub const TITLE_PATTERN: &str = concat!(
    r"^[^\u0000-\u001F\u007F-\u009F]*",
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000-\u001F\u007F-\u009F]*$"
);

/// The title in `text`, trimmed; at most `max_chars` characters as sent,
/// not blank, no control characters. A failure goes to `errors` as `field`.
pub fn check_title(
    field: &str,
    text: &str,
    max_chars: usize,
    errors: &mut Vec<FieldError>,
) -> String {
    let problem = if text.chars().count() > max_chars {
        Some(format!("must be at most {max_chars} characters"))
    } else if text.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else if text.trim().is_empty() {
        Some("must not be blank".into())
    } else {
        None
    };
    if let Some(message) = problem {
        errors.push(FieldError::new(field, message));
    }
    text.trim().to_string()
}

/// Deserializes a PATCH field that may be absent (`None`, by
/// `#[serde(default)]`) but is never `null`: a field that cannot be cleared
/// refuses `null` with a 422 naming it, instead of reading it as absent.
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Deserializes a count that JSON may write as `1095` or `1095.0` (JSON
/// Schema's `integer` admits both); a fraction or a negative is refused.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    use serde::de::Error as _;
    let number = <serde_json::Number as serde::Deserialize>::deserialize(deserializer)?;
    if let Some(whole) = number.as_u64() {
        return Ok(whole);
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&f) => Ok(f as u64),
        _ => Err(D::Error::custom(format!(
            "expected a whole number, found {number}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_checked() {
        let check = |text: &str| {
            let mut errors = Vec::new();
            let title = check_title("title", text, 5, &mut errors);
            (title, errors.len())
        };
        assert_eq!(check("  hi "), ("hi".into(), 0));
        assert_eq!(check("12345"), ("12345".into(), 0));
        assert_eq!(check("123456").1, 1);
        assert_eq!(check(" \u{3000}\t").1, 1);
        assert_eq!(check("a\u{7}").1, 1);
        assert_eq!(check("").1, 1);
    }
}
