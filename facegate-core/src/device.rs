//! The device fingerprint clients send as `x-device-fingerprint`: a hex
//! SHA-256, bound into tokens at verify. It is read and normalised here and
//! nowhere else, so verify, refresh, session exchange and the guard compare
//! it the same way.

use http::HeaderMap;

pub(crate) const HEADER: &str = "x-device-fingerprint";

/// Why a presented fingerprint cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MalformedFingerprint;

/// The request's fingerprint in lower-case hex; `Ok(None)` without one.
pub(crate) fn fingerprint(headers: &HeaderMap) -> Result<Option<String>, MalformedFingerprint> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| MalformedFingerprint)?.trim();
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MalformedFingerprint);
    }
    Ok(Some(value.to_ascii_lowercase()))
}

/// The fingerprint to compare with a binding: a malformed one binds to nothing.
pub(crate) fn presented_fingerprint(headers: &HeaderMap) -> Option<String> {
    fingerprint(headers).ok().flatten()
}

/// Whether a request may use something bound to `bound` (no binding: any).
pub(crate) fn matches_binding(bound: Option<&str>, headers: &HeaderMap) -> bool {
    bound.is_none_or(|bound| presented_fingerprint(headers).as_deref() == Some(bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, value.parse().unwrap());
        headers
    }

    #[test]
    fn normalises_case_and_space_and_refuses_other_shapes() {
        let upper = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
        let lower = upper.to_ascii_lowercase();
        assert_eq!(
            fingerprint(&headers(&format!(" {upper} "))),
            Ok(Some(lower.clone()))
        );
        assert!(matches_binding(Some(&lower), &headers(upper)));
        assert!(!matches_binding(Some(&lower), &HeaderMap::new()));
        assert!(matches_binding(None, &HeaderMap::new()));
        assert_eq!(fingerprint(&headers("abc")), Err(MalformedFingerprint));
        assert_eq!(fingerprint(&HeaderMap::new()), Ok(None));
    }
}
