use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header deliveries carry their signature in.
pub const SIGNATURE_HEADER: &str = "FaceGate-Signature";
/// How far a delivery's timestamp may be from the receiver's clock, as Stripe's libraries allow.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature header has no timestamp")]
    NoTimestamp,
    #[error("the signature header has no v1 signature")]
    NoSignature,
    #[error("no v1 signature matches the body")]
    Mismatch,
    /// Outside the tolerance, either way (a replay, or a clock far off).
    #[error(
        "the signature's timestamp is {age_secs} s from now, beyond the {tolerance_secs} s allowed"
    )]
    OutsideTolerance { age_secs: i64, tolerance_secs: i64 },
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header of `body` signed with `secret` at `timestamp` (unix seconds).
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Checks a delivery: `header` is the `FaceGate-Signature` value, `body` the
/// raw request body (before any JSON parsing), `now` the receiver's clock in
/// unix seconds. Returns the signed timestamp.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (key, value) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                let t = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed)?;
                if timestamp.replace(t).is_some() {
                    return Err(SignatureError::Malformed);
                }
            }
            // Undecodable values match nothing; they do not void the others.
            "v1" => signatures.extend(hex::decode(value).ok()),
            // Other schemes (a future v2) are for other receivers.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let expected = mac(secret, timestamp, body).finalize().into_bytes();
    // Every value is compared, in constant time, whatever matched before.
    let matched = signatures
        .iter()
        .fold(subtle::Choice::from(0), |any, candidate| {
            any | candidate.as_slice().ct_eq(expected.as_slice())
        });
    if !bool::from(matched) {
        return Err(SignatureError::Mismatch);
    }
    let age_secs = now.saturating_sub(timestamp);
    if age_secs.saturating_abs() > tolerance_secs {
        return Err(SignatureError::OutsideTolerance {
            age_secs,
            tolerance_secs,
        });
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"auth.succeeded"}"#;
    const T: i64 = 1_767_225_600;

    #[test]
    fn a_signed_body_verifies_and_an_altered_one_does_not() {
        let header = signature_header(SECRET, T, BODY);
        assert!(header.starts_with(&format!("t={T},v1=")));
        assert_eq!(verify_signature(SECRET, &header, BODY, T + 10, 300), Ok(T));
        let altered = br#"{"id":"evt_1","type":"auth.failed"}"#;
        assert_eq!(
            verify_signature(SECRET, &header, altered, T, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"another", &header, BODY, T, 300),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: moving it breaks the signature.
        let moved = header.replacen(&T.to_string(), &(T + 1000).to_string(), 1);
        assert_eq!(
            verify_signature(SECRET, &moved, BODY, T + 1000, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_v1_value_may_match_and_other_schemes_are_ignored() {
        let good = signature_header(SECRET, T, BODY);
        let v1 = good.split("v1=").nth(1).unwrap();
        let header = format!("t={T},v1={},v0=abc,v1=zz,v1={v1}", "00".repeat(32));
        assert_eq!(verify_signature(SECRET, &header, BODY, T, 300), Ok(T));
    }

    #[test]
    fn replayed_or_future_deliveries_are_refused() {
        let header = signature_header(SECRET, T, BODY);
        assert_eq!(verify_signature(SECRET, &header, BODY, T + 300, 300), Ok(T));
        assert_eq!(
            verify_signature(SECRET, &header, BODY, T + 301, 300),
            Err(SignatureError::OutsideTolerance {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert!(matches!(
            verify_signature(SECRET, &header, BODY, T - 301, 300),
            Err(SignatureError::OutsideTolerance { .. })
        ));
    }

    #[test]
    fn malformed_headers_are_refused_without_panicking() {
        for (header, error) in [
            ("", SignatureError::Malformed),
            ("garbage", SignatureError::Malformed),
            ("t=abc,v1=00", SignatureError::Malformed),
            ("t=1,t=2,v1=00", SignatureError::Malformed),
            ("v1=00", SignatureError::NoTimestamp),
            ("t=1767225600", SignatureError::NoSignature),
            ("t=1767225600,v1=not-hex", SignatureError::NoSignature),
            ("t=9223372036854775807,v1=00", SignatureError::Mismatch),
        ] {
            assert_eq!(
                verify_signature(SECRET, header, BODY, T, 300),
                Err(error),
                "{header:?}"
            );
        }
    }
}
