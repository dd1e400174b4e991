//! Reading requests and writing responses: body limits, JSON and query parsing
//! with field-level error details, and the JSON response helper.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldIssue};

/// Reads the whole body, refusing more than `limit` bytes (a declared
/// `Content-Length` over the limit is refused before reading anything).
pub(crate) async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(err) => Err(ApiError::MalformedJson(format!(
            "could not read request body: {err}"
        ))),
    }
}

/// Parses a JSON body into `T`. Syntax errors are `INVALID_JSON`; a well-formed
/// body of the wrong shape, or text holding a NUL character, is
/// `VALIDATION_FAILED` with the offending field's path.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value = parse_json_value(body)?;
    if let Some(path) = nul_at(&value, String::new()) {
        return Err(nul_refused(&path));
    }
    deserialize(value)
}

/// [`parse_json`] for a handler that checks every text field itself and
/// reports all issues at once (a batch of signals, by index).
pub(crate) fn parse_json_unscreened<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    deserialize(parse_json_value(body)?)
}

fn parse_json_value(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "the request body is empty".to_owned(),
        ));
    }
    // Syntax first, over the whole body, so trailing garbage is never
    // mistaken for a shape problem; then the shape, with the field's path.
    serde_json::from_slice(body).map_err(|err| ApiError::MalformedJson(err.to_string()))
}

fn deserialize<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        // A missing field is reported at its parent: name it.
        let field = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let path = match (path.as_str(), field) {
            (_, None) => path,
            (".", Some(field)) | ("", Some(field)) => field.to_owned(),
            (parent, Some(field)) => format!("{parent}.{field}"),
        };
        ApiError::Validation(vec![FieldIssue::new(&path, message)])
    })
}

/// Parses the query string into `T`.
/// Where a JSON value holds a NUL character (`\u0000`), in a string or a
/// key. PostgreSQL stores none in `text` or `jsonb`: such input is refused
/// up front (400) rather than failing in the database (a 500, found by the
/// property tests on PostgreSQL).
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) => text.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, join(&i.to_string()))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(path.clone())
            } else {
                nul_at(item, join(key))
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

fn nul_refused(path: &str) -> ApiError {
    let path = if path.is_empty() { "body" } else { path };
    ApiError::Validation(vec![FieldIssue::new(
        path,
        "text may not contain NUL characters (\\u0000)",
    )])
}

pub(crate) fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, ApiError> {
    // The one way to write NUL in a query string.
    if query.is_some_and(|query| query.contains("%00")) {
        return Err(nul_refused("query"));
    }
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|err| ApiError::Validation(vec![FieldIssue::new("query", err.to_string())]))
}

pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).expect("response types serialise to JSON");
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A page the core serves (the demo, the handoff's phone page): HTML,
/// never sniffed as anything else, sending no referrer, cached as told.
pub(crate) fn html_page(html: &'static str, cache_control: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(html.as_bytes()));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static(cache_control),
    );
    headers.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    response
}

pub(crate) fn error_response(err: &ApiError) -> Response<Bytes> {
    let mut response = json_response(err.status(), &err.body());
    if let Some(seconds) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Timestamps on the wire: RFC 3339 in UTC with milliseconds, as in the spec
/// (`2026-05-01T12:00:00.000Z`).
pub(crate) fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `serde(serialize_with)` form of [`timestamp`].
pub(crate) fn serialize_timestamp<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&timestamp(at))
}

/// `serde(serialize_with)` form of [`timestamp`] for an optional one (`null`).
pub(crate) fn serialize_optional_timestamp<S: serde::Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&timestamp(at)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        status: String,
        count: Option<u32>,
    }

    #[test]
    fn tells_malformed_json_from_wrong_shape() {
        assert!(matches!(
            parse_json::<Body>(b"{\"status\": "),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b"  "),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b"{\"status\":\"a\"} trailing"),
            Err(ApiError::MalformedJson(_))
        ));
        match parse_json::<Body>(br#"{"status":"a","count":"many"}"#) {
            Err(ApiError::Validation(issues)) => {
                assert_eq!(issues[0].path, vec!["count".to_owned()]);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        match parse_json::<Body>(br#"{"count":1}"#) {
            Err(ApiError::Validation(issues)) => {
                assert_eq!(issues[0].path, vec!["status".to_owned()]);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn refuses_nul_characters_with_their_path() {
        let path_of = |body: &[u8]| match parse_json::<serde_json::Value>(body) {
            Err(ApiError::Validation(issues)) => issues[0].path.join("."),
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(path_of(br#"{"status":"a\u0000"}"#), "status");
        assert_eq!(
            path_of(br#"{"meta":{"tags":["x","\u0000"]}}"#),
            "meta.tags.1"
        );
        assert_eq!(path_of(br#"{"meta":{"\u0000":1}}"#), "meta");
        assert_eq!(path_of(br#""\u0000""#), "body");
        // A backslash followed by "u0000" is no NUL.
        assert!(parse_json::<serde_json::Value>(br#"{"status":"\\u0000"}"#).is_ok());
        assert!(matches!(
            parse_query::<std::collections::HashMap<String, String>>(Some("after=%00")),
            Err(ApiError::Validation(_))
        ));
    }
}
