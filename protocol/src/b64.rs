//! Strict unpadded base64url, the only encoding JOSE and Authentiq IDs use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Why a base64url string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B64Error {
    /// `=` padding, which JOSE forbids.
    Padding,
    /// A character outside the URL-safe alphabet (e.g. `+` or `/`).
    Alphabet,
    /// Valid characters whose unused trailing bits are not zero, so that
    /// several strings would decode to the same bytes.
    NonCanonical,
    /// A length no base64 string can have (1 mod 4).
    Length,
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn decode(s: &str) -> Result<Vec<u8>, B64Error> {
    if s.contains('=') {
        return Err(B64Error::Padding);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(B64Error::Alphabet);
    }
    if s.len() % 4 == 1 {
        return Err(B64Error::Length);
    }
    // The general-purpose engine rejects non-zero trailing bits by default,
    // which is the only failure left once the checks above passed.
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| B64Error::NonCanonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_each_malformation_precisely() {
        assert_eq!(decode("QQ=="), Err(B64Error::Padding));
        assert_eq!(decode("a+b/"), Err(B64Error::Alphabet));
        assert_eq!(decode("a b"), Err(B64Error::Alphabet));
        assert_eq!(decode("QUJDR"), Err(B64Error::Length));
        // "QR" decodes to 'A' only if the trailing 4 bits are ignored.
        assert_eq!(decode("QR"), Err(B64Error::NonCanonical));
        assert_eq!(decode("QQ"), Ok(b"A".to_vec()));
        assert_eq!(decode(""), Ok(Vec::new()));
    }
}
