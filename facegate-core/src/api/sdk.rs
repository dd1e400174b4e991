//! `GET /v1/sdk/facegate.js`, `/v1/sdk/facegate-widget.js` (and their
//! `.d.ts`): the browser SDK and widget from
//! `facegate-web/`, embedded at build time so every adapter serves the very
//! module this version of the API was tested with. No API key: it is a
//! public asset, and pages on other origins import it (hence CORS).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

const SDK_JS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../facegate-web/facegate.js"
));
const SDK_TYPES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../facegate-web/facegate.d.ts"
));

const WIDGET_JS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../facegate-web/facegate-widget.js"
));
const WIDGET_TYPES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../facegate-web/facegate-widget.d.ts"
));

/// Which file of the SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SdkFile {
    Module,
    Types,
    /// The FACEIO-style widget; it imports `./facegate.js`.
    Widget,
    WidgetTypes,
}

impl SdkFile {
    /// Its media type (served with `; charset=utf-8`).
    pub(super) fn media_type(self) -> &'static str {
        match self {
            SdkFile::Module | SdkFile::Widget => "text/javascript",
            SdkFile::Types | SdkFile::WidgetTypes => "application/typescript",
        }
    }
}

pub(super) fn serve(file: SdkFile) -> Response<Bytes> {
    let body = match file {
        SdkFile::Module => SDK_JS,
        SdkFile::Types => SDK_TYPES,
        SdkFile::Widget => WIDGET_JS,
        SdkFile::WidgetTypes => WIDGET_TYPES,
    };
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    let content_type = format!("{}; charset=utf-8", file.media_type());
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).expect("a media type is a header value"),
    );
    // The bytes change only with the server's version.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
