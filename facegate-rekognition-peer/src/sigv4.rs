//! Checks a request's AWS Signature Version 4 the way AWS does: the
//! signature is computed again with the secret of the access key named in
//! the `Authorization` header, over the headers the client says it signed,
//! by AWS's own signer (`aws-sigv4`), and compared in constant time. A
//! client that signs for another service, with another secret or more than
//! five minutes off the clock is refused with AWS's error codes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{NaiveDateTime, TimeZone, Utc};
use http::HeaderMap;

use crate::AwsError;

/// The service name requests must be scoped to.
pub const SERVICE: &str = "rekognition";

/// How far a request's `X-Amz-Date` may be from the peer's clock, as AWS allows.
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// An access key the peer accepts.
#[derive(Debug, Clone)]
pub struct PeerCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The account its collections and sessions belong to.
    pub account_id: String,
}

/// Who signed a request, and for which region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub account_id: String,
    pub region: String,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let parsed = Authorization {
        access_key_id: scope.next()?,
        date: scope.next()?,
        region: scope.next()?,
        service: scope.next()?,
        signed_headers: signed_headers?.split(';').collect(),
        signature: signature?,
    };
    (scope.next() == Some("aws4_request") && scope.next().is_none()).then_some(parsed)
}

/// Checks the signature of a request to `uri` (scheme, host, path and query).
pub fn verify(
    credentials: &HashMap<String, PeerCredentials>,
    method: &str,
    uri: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Caller, AwsError> {
    let invalid = |message: &str| AwsError::new(400, "InvalidSignatureException", message);
    let Some(authorization) = headers.get(http::header::AUTHORIZATION) else {
        return Err(AwsError::new(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let authorization = authorization
        .to_str()
        .ok()
        .and_then(parse_authorization)
        .ok_or_else(|| {
            AwsError::new(
                400,
                "IncompleteSignatureException",
                "Authorization header requires Credential, SignedHeaders and Signature",
            )
        })?;
    let Some(key) = credentials.get(authorization.access_key_id) else {
        return Err(AwsError::new(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    };
    if authorization.service != SERVICE {
        return Err(invalid(
            "Credential should be scoped to correct service: 'rekognition'.",
        ));
    }
    let signed_at = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%SZ").ok())
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| invalid("X-Amz-Date is missing or not in the basic ISO 8601 format"))?;
    if signed_at.format("%Y%m%d").to_string() != authorization.date {
        return Err(invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP",
        ));
    }
    let signed_at = SystemTime::from(signed_at);
    let skew = now
        .duration_since(signed_at)
        .or_else(|_| signed_at.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(invalid(
            "Signature expired: the request is more than 5 minutes off",
        ));
    }
    if !authorization.signed_headers.contains(&"host") {
        return Err(invalid("'Host' must be a signed header"));
    }
    // Only what the client signed, as it sent it.
    let mut signed = Vec::with_capacity(authorization.signed_headers.len());
    for name in &authorization.signed_headers {
        let values: Vec<&str> = headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Err(invalid(&format!("signed header {name} is missing")));
        }
        signed.push((*name, values.join(",")));
    }
    let session_token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if session_token.is_some() {
        // The peer issues no temporary credentials of its own.
        return Err(AwsError::new(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    let identity: Identity = Credentials::new(
        &key.access_key_id,
        &key.secret_access_key,
        None,
        None,
        "facegate-rekognition-peer",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(authorization.region)
        .name(SERVICE)
        .time(signed_at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|err| AwsError::internal(format!("signing parameters: {err}")))?
        .into();
    let request = SignableRequest::new(
        method,
        uri,
        signed.iter().map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|err| invalid(&format!("the request cannot be signed: {err}")))?;
    let (_, expected) = sign(request, &params)
        .map_err(|err| invalid(&format!("the request cannot be signed: {err}")))?
        .into_parts();
    let matches: bool =
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), authorization.signature.as_bytes())
            .into();
    if !matches {
        return Err(invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(Caller {
        account_id: key.account_id.clone(),
        region: authorization.region.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> HashMap<String, PeerCredentials> {
        let key = PeerCredentials {
            access_key_id: "AKIDPEER".into(),
            secret_access_key: "peer-secret".into(),
            account_id: "111122223333".into(),
        };
        HashMap::from([(key.access_key_id.clone(), key)])
    }

    /// Signs a request as a client would, with aws-sigv4.
    fn signed(secret: &str, service: &str, at: SystemTime, body: &[u8]) -> HeaderMap {
        let date = chrono::DateTime::<Utc>::from(at)
            .format("%Y%m%dT%H%M%SZ")
            .to_string();
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:9000".parse().unwrap());
        headers.insert("x-amz-date", date.parse().unwrap());
        headers.insert(
            "x-amz-target",
            "RekognitionService.ListCollections".parse().unwrap(),
        );
        headers.insert(
            "content-type",
            "application/x-amz-json-1.1".parse().unwrap(),
        );
        let identity: Identity = Credentials::new("AKIDPEER", secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name(service)
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let request = SignableRequest::new(
            "POST",
            "http://127.0.0.1:9000/",
            headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap())),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut request = http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1:9000/")
            .body(())
            .unwrap();
        *request.headers_mut() = headers;
        instructions.apply_to_request_http1x(&mut request);
        request.headers().clone()
    }

    fn check(headers: &HeaderMap, body: &[u8], now: SystemTime) -> Result<Caller, AwsError> {
        verify(
            &keys(),
            "POST",
            "http://127.0.0.1:9000/",
            headers,
            body,
            now,
        )
    }

    #[test]
    fn a_correct_signature_names_the_account_and_region() {
        let now = SystemTime::now();
        let caller = check(&signed("peer-secret", SERVICE, now, b"{}"), b"{}", now).unwrap();
        assert_eq!(caller.account_id, "111122223333");
        assert_eq!(caller.region, "eu-west-1");
    }

    #[test]
    fn a_wrong_secret_a_changed_body_another_service_or_a_stale_date_is_refused() {
        let now = SystemTime::now();
        let code = |r: Result<Caller, AwsError>| r.unwrap_err().code;
        let good = signed("peer-secret", SERVICE, now, b"{}");
        assert_eq!(
            code(check(&signed("guessed", SERVICE, now, b"{}"), b"{}", now)),
            "InvalidSignatureException"
        );
        assert_eq!(
            code(check(&good, b"{\"CollectionId\":\"x\"}", now)),
            "InvalidSignatureException"
        );
        assert_eq!(
            code(check(&signed("peer-secret", "s3", now, b"{}"), b"{}", now)),
            "InvalidSignatureException"
        );
        let later = now + Duration::from_secs(6 * 60);
        assert_eq!(
            code(check(&good, b"{}", later)),
            "InvalidSignatureException"
        );
        let mut tampered = good.clone();
        tampered.insert(
            "x-amz-target",
            "RekognitionService.DeleteCollection".parse().unwrap(),
        );
        assert_eq!(
            code(check(&tampered, b"{}", now)),
            "InvalidSignatureException"
        );
        assert_eq!(
            code(check(&HeaderMap::new(), b"{}", now)),
            "MissingAuthenticationTokenException"
        );
    }
}
