//! Percent-encoding shared by Digital Link URIs and EPC URNs. Private: the public API speaks
//! decoded values only.

use threadline_domain::error::FieldError;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved characters, the only ones a produced Digital Link leaves unescaped.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Escapes every byte of `value` for which `keep` is false as `%XX` (upper-case hex).
pub(crate) fn encode(value: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes. `context` names the URI or URN for the error message; `code` is the
/// error code for a broken escape.
pub(crate) fn decode(s: &str, context: &str, code: &'static str) -> Result<String, FieldError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(hex_value);
            let lo = b.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(FieldError::new(
                    code,
                    format!(
                        "`{}` has a `%` that is not followed by two hex digits",
                        context.escape_debug()
                    ),
                ));
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        FieldError::new(
            "invalid_character",
            format!(
                "`{}` escapes bytes that are not UTF-8 text",
                context.escape_debug()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = "98\"!()*+,:;=%&/<>?'_-.~AZaz09";
        let e = encode(s, is_unreserved);
        assert_eq!(
            e,
            "98%22%21%28%29%2A%2B%2C%3A%3B%3D%25%26%2F%3C%3E%3F%27_-.~AZaz09"
        );
        assert_eq!(decode(&e, "x", "bad").unwrap(), s);
        assert_eq!(decode("%2f%2F", "x", "bad").unwrap(), "//");
        assert_eq!(decode("%2", "x", "bad").unwrap_err().code, "bad");
        assert_eq!(decode("%zz", "x", "bad").unwrap_err().code, "bad");
        assert_eq!(
            decode("%FF", "x", "bad").unwrap_err().code,
            "invalid_character"
        );
    }
}
