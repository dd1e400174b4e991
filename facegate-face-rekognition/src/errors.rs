//! AWS errors as FaceGate's face errors. The SDK has already retried what
//! is worth retrying (throttling, transient faults) within its bounds.

use aws_sdk_rekognition::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use facegate_core::providers::face::FaceError;

/// Whether a failed call failed with this AWS error code.
pub(crate) fn is_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, code: &str) -> bool {
    err.code() == Some(code)
}

/// Throttling → [`FaceError::Busy`] (503 `ENGINE_BUSY` with `Retry-After`),
/// an image Rekognition cannot read → 400 `INVALID_IMAGE_FORMAT`, an image
/// without a face → 422; refused credentials and everything else → an
/// engine failure (500), logged with what to fix.
pub(crate) fn aws_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> FaceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = err.message().unwrap_or_default().to_owned();
    match err.code() {
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "LimitExceededException",
        ) => {
            tracing::warn!(operation, %message, "Rekognition throttled the request");
            FaceError::Busy
        }
        Some("InvalidImageFormatException") => FaceError::InvalidImage(message),
        Some("ImageTooLargeException") => FaceError::TooLarge(message),
        Some("InvalidParameterException") if message.contains("no faces") => FaceError::NoFace,
        Some(
            code @ ("AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException"),
        ) => {
            tracing::error!(
                operation,
                code,
                %message,
                "AWS refused FaceGate's credentials: check the credentials chain and the IAM policy (docs/rekognition.md)"
            );
            FaceError::Engine(format!("{operation}: AWS refused the credentials ({code})"))
        }
        _ => {
            let detail = DisplayErrorContext(&err).to_string();
            tracing::error!(operation, error = %detail, "Rekognition call failed");
            FaceError::Engine(format!("{operation} failed: {detail}"))
        }
    }
}
