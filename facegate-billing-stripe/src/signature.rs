//! `Stripe-Signature` verification, as Stripe's own libraries do it: the
//! HMAC-SHA256 of `"{t}.{raw body}"` under the endpoint's secret, compared
//! in constant time with every `v1` value of the header (several during a
//! secret's rotation), and a timestamp within the tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Stripe's default tolerance, and ours.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("no v1 signature matches the payload")]
    Mismatch,
    #[error("the signature's timestamp is {0} s away from now, past the tolerance")]
    OutsideTolerance(i64),
}

fn expected(secret: &str, timestamp: i64, payload: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// Checks a `Stripe-Signature` header against the raw body. `now` and the
/// tolerance are in seconds.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", value)) if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::NoTimestamp)?,
                );
            }
            // Not hex, or not 32 bytes: cannot match, like any wrong one.
            Some(("v1", value)) => signatures.push(hex::decode(value).unwrap_or_default()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let expected = expected(secret, timestamp, payload);
    // Every value is compared, each in constant time.
    let matched = signatures
        .iter()
        .fold(subtle::Choice::from(0), |found, candidate| {
            found | candidate.as_slice().ct_eq(&expected)
        });
    if !bool::from(matched) {
        return Err(SignatureError::Mismatch);
    }
    let age = now - timestamp;
    if age.abs() > tolerance_secs {
        return Err(SignatureError::OutsideTolerance(age));
    }
    Ok(())
}

/// A `Stripe-Signature` header for a payload, as Stripe would send it (for
/// tests and local tools).
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(expected(secret, timestamp, payload))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"ping"}"#;
    const NOW: i64 = 1_800_000_000;

    fn check(header: &str, now: i64) -> Result<(), SignatureError> {
        verify(Some(header), BODY, SECRET, now, DEFAULT_TOLERANCE_SECS)
    }

    #[test]
    fn accepts_what_stripe_signs() {
        assert_eq!(check(&sign(BODY, SECRET, NOW), NOW), Ok(()));
        assert_eq!(check(&sign(BODY, SECRET, NOW), NOW + 300), Ok(()));
    }

    #[test]
    fn any_v1_may_match_and_other_schemes_are_ignored() {
        let good = sign(BODY, SECRET, NOW);
        let v1 = good.split("v1=").nth(1).unwrap();
        let rotating = format!("t={NOW},v1={},v0=abc,v1={v1}", "00".repeat(32));
        assert_eq!(check(&rotating, NOW), Ok(()));
        // Only v0 (Stripe's test scheme): no v1 to check.
        assert_eq!(
            check(&format!("t={NOW},v0={v1}"), NOW),
            Err(SignatureError::NoSignature)
        );
    }

    #[test]
    fn refuses_wrong_secrets_bodies_and_headers() {
        let other = sign(BODY, "whsec_other", NOW);
        assert_eq!(check(&other, NOW), Err(SignatureError::Mismatch));
        let header = sign(BODY, SECRET, NOW);
        assert_eq!(
            verify(Some(&header), b"{}", SECRET, NOW, 300),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW + 1));
        assert_eq!(check(&moved, NOW), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(None, BODY, SECRET, NOW, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(check("v1=abc", NOW), Err(SignatureError::NoTimestamp));
        assert_eq!(
            check("t=soon,v1=abc", NOW),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            check(&format!("t={NOW},v1=zz"), NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(check("", NOW), Err(SignatureError::NoTimestamp));
    }

    #[test]
    fn refuses_replays_past_the_tolerance() {
        let old = sign(BODY, SECRET, NOW - 301);
        assert_eq!(check(&old, NOW), Err(SignatureError::OutsideTolerance(301)));
        let future = sign(BODY, SECRET, NOW + 301);
        assert_eq!(
            check(&future, NOW),
            Err(SignatureError::OutsideTolerance(-301))
        );
    }
}
