//! Client keys' origin allow-lists (FACEIO's "authorized domains"): a
//! request with a client key must come from a page on one of the key's
//! origins. Browsers set `Origin` (or at least `Referer`) themselves, so
//! page scripts cannot forge them; a script outside a browser can, which is
//! why client keys reach only the ceremony and never tenant data.

use http::{HeaderMap, Uri, header};

use crate::domain::OriginRules;
use crate::error::ApiError;

/// `scheme://host[:port]` in lower case, without a default port; `None` for
/// anything else (a path, credentials, another scheme).
pub(crate) fn normalise(origin: &str) -> Option<String> {
    let uri: Uri = origin.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || !matches!(uri.path(), "" | "/") || uri.query().is_some()
    {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    let default_port = if scheme == "https" { 443 } else { 80 };
    Some(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// The origin the browser says the request came from: `Origin`, else the
/// origin part of `Referer`. `Some("null")` for an opaque origin.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let text = origin.to_str().unwrap_or("null");
        return Some(normalise(text).unwrap_or_else(|| "null".into()));
    }
    let referer: Uri = headers.get(header::REFERER)?.to_str().ok()?.parse().ok()?;
    let origin = format!("{}://{}", referer.scheme_str()?, referer.authority()?);
    Some(normalise(&origin).unwrap_or_else(|| "null".into()))
}

/// 403 `FORBIDDEN_ORIGIN` from a page outside the list, 403 `EMPTY_ORIGIN`
/// without any origin when the key says so.
pub(crate) fn check(rules: &OriginRules, headers: &HeaderMap) -> Result<(), ApiError> {
    match request_origin(headers) {
        None if rules.reject_empty => Err(ApiError::EmptyOrigin),
        None => Ok(()),
        Some(origin) if rules.allowed.is_empty() || rules.allowed.contains(&origin) => Ok(()),
        Some(_) => Err(ApiError::ForbiddenOrigin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn normalises_origins() {
        assert_eq!(
            normalise("HTTPS://App.Example:443/").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            normalise("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        for bad in [
            "app.example",
            "ftp://a.example",
            "https://a.example/path",
            "https://u@a.example",
            "*",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
    }

    #[test]
    fn checks_origin_then_referer() {
        let rules = OriginRules {
            allowed: vec!["https://shop.example".into()],
            reject_empty: true,
        };
        assert!(
            check(
                &rules,
                &headers(&[(header::ORIGIN, "https://shop.example")])
            )
            .is_ok()
        );
        assert!(
            check(
                &rules,
                &headers(&[(header::REFERER, "https://shop.example/login?x=1")])
            )
            .is_ok()
        );
        assert!(matches!(
            check(
                &rules,
                &headers(&[(header::ORIGIN, "https://shop.example.evil.test")])
            ),
            Err(ApiError::ForbiddenOrigin)
        ));
        // Origin wins over a Referer that would pass.
        assert!(matches!(
            check(
                &rules,
                &headers(&[
                    (header::ORIGIN, "null"),
                    (header::REFERER, "https://shop.example/")
                ])
            ),
            Err(ApiError::ForbiddenOrigin)
        ));
        assert!(matches!(
            check(&rules, &HeaderMap::new()),
            Err(ApiError::EmptyOrigin)
        ));
        let open = OriginRules::default();
        assert!(check(&open, &HeaderMap::new()).is_ok());
        assert!(check(&open, &headers(&[(header::ORIGIN, "https://any.example")])).is_ok());
    }
}
