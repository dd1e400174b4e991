//! AWS Rekognition as FaceGate's face engine, the cloud option beside the
//! local one: swapped by the [`FaceProvider`] trait, with no change to the
//! REST API.
//!
//! One collection per tenant (`{prefix}{tenant id}`, created on first use),
//! faces indexed with `IndexFaces` (`ExternalImageId` = `{user id}:{face id}`,
//! so a hit names its user and FaceGate face), searched with
//! `SearchFacesByImage` at the tenant's threshold, removed with
//! `DeleteFaces`, and analysed with `DetectFaces` into the attribute shape
//! the local engine reports (see [`attributes`]). The store stays the
//! source of truth: core re-checks every hit against it, as with the
//! local engine.
//!
//! ```no_run
//! # async fn run() {
//! use facegate_face_rekognition::{RekognitionConfig, RekognitionEngine};
//! // The usual AWS environment: AWS_REGION, the credentials chain, and
//! // AWS_ENDPOINT_URL for a local peer.
//! let engine = RekognitionEngine::from_env(RekognitionConfig::default()).await;
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod attributes;
mod errors;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_rekognition::Client;
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::{Attribute, Image, QualityFilter};
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::providers::face::{
    DetectedFace, FaceError, FaceMatch, FaceProbe, FaceProvider, ImageInput, IndexedFace,
    ProviderLivenessResult, ProviderLivenessStart, TemporaryCredentials,
};

use errors::{aws_error, is_code};

/// Faces asked for when looking for the best two people.
const CANDIDATE_FACES: i32 = 16;

/// The name stored with this engine's enrollments.
const ENGINE_NAME: &str = "rekognition";

/// How the engine uses Rekognition.
#[derive(Debug, Clone)]
pub struct RekognitionConfig {
    /// Collections are named `{collection_prefix}{tenant id}`.
    pub collection_prefix: String,
    /// `IndexFaces` leaves out faces below this quality (Rekognition's
    /// `QualityFilter`; `AUTO` by default).
    pub quality_filter: QualityFilter,
    /// Faces smaller than this (box height, pixels) do not count for
    /// enroll and match, as with the local engine.
    pub min_face_px: f32,
    /// Attempts per call, the first included (the SDK's standard retry
    /// mode: exponential backoff with jitter, throttling retried).
    pub max_attempts: u32,
    /// Time for one call, all its attempts included.
    pub operation_timeout: Duration,
    /// Face Liveness sessions (`POST /v1/liveness/session`).
    pub liveness: LivenessConfig,
}

/// How Face Liveness sessions are made.
#[derive(Clone, Default)]
pub struct LivenessConfig {
    // No `OutputConfig` (an S3 bucket for the images) on purpose: with
    // one, AWS puts the reference image in S3 instead of the results, and
    // copies of faces would outlive the user's deletion there.
    /// Audit images AWS keeps per session, 0 to 4.
    pub audit_images_limit: i32,
    /// Credentials handed to the browser for `StartFaceLivenessSession`:
    /// temporary, and allowed nothing else ([`LivenessConfig::assume_role`]
    /// makes such a provider). Without them the session answer carries
    /// `credentials: null` and the browser must get its own (a Cognito
    /// identity pool, say). A set is handed out while it has at least
    /// [`BROWSER_CREDENTIALS_MARGIN`] left, then a new one is asked for.
    pub browser_credentials: Option<SharedCredentialsProvider>,
}

/// The inline session policy of the browser's credentials: the one call
/// AWS's `FaceLivenessDetector` makes, on no other resource type (Face
/// Liveness has none). Whatever the role allows, the credentials allow
/// only what both allow.
pub const BROWSER_SESSION_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rekognition:StartFaceLivenessSession","Resource":"*"}]}"#;

/// How long browser credentials last (STS's shortest).
pub const BROWSER_CREDENTIALS_LIFETIME: Duration = Duration::from_secs(900);

/// A browser gets credentials with at least this much time left: more
/// than a Face Liveness session's 3 minutes, so they outlive its stream.
pub const BROWSER_CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

impl LivenessConfig {
    /// Browser credentials from STS `AssumeRole` on `role_arn` (a role
    /// the host's credentials may assume), narrowed by
    /// [`BROWSER_SESSION_POLICY`] and valid [`BROWSER_CREDENTIALS_LIFETIME`].
    /// STS is reached with `sdk`'s credentials, region and endpoint
    /// (`AWS_ENDPOINT_URL_STS` for a local STS).
    pub async fn assume_role(
        sdk: &aws_config::SdkConfig,
        role_arn: impl Into<String>,
    ) -> SharedCredentialsProvider {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("facegate-liveness")
            .policy(BROWSER_SESSION_POLICY)
            .session_length(BROWSER_CREDENTIALS_LIFETIME)
            .configure(sdk)
            .build()
            .await;
        SharedCredentialsProvider::new(provider)
    }
}

impl std::fmt::Debug for LivenessConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivenessConfig")
            .field("audit_images_limit", &self.audit_images_limit)
            .field("browser_credentials", &self.browser_credentials.is_some())
            .finish()
    }
}

impl Default for RekognitionConfig {
    fn default() -> Self {
        Self {
            collection_prefix: "facegate-".into(),
            quality_filter: QualityFilter::Auto,
            min_face_px: 80.0,
            max_attempts: 3,
            operation_timeout: Duration::from_secs(10),
            liveness: LivenessConfig::default(),
        }
    }
}

/// The probe's engine data: the image bytes, for `SearchFacesByImage` and
/// `IndexFaces` (Rekognition keeps its embeddings to itself).
struct ImageBytes(Vec<u8>);

pub struct RekognitionEngine {
    client: Client,
    /// Reported with each liveness session, for the browser's component.
    region: Option<String>,
    config: RekognitionConfig,
    /// Collections known to exist (created here or found), so that only
    /// a tenant's first enrollment per process pays `CreateCollection`.
    collections: Mutex<HashSet<String>>,
    /// The browser credentials last issued; callers queue on the lock so
    /// that a burst of sessions makes one STS call, not one each.
    browser_credentials: tokio::sync::Mutex<Option<Credentials>>,
}

impl RekognitionEngine {
    /// From the usual AWS environment (`AWS_REGION`, the credentials
    /// chain, `AWS_ENDPOINT_URL`), over [`https_client`].
    pub async fn from_env(config: RekognitionConfig) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .load()
            .await;
        Self::new(&sdk, config)
    }

    /// From an SDK configuration the host built (its own credentials
    /// provider, region or endpoint). Its HTTP client should be
    /// [`https_client`], or another the host chose.
    pub fn new(sdk: &aws_config::SdkConfig, config: RekognitionConfig) -> Self {
        let rekognition = aws_sdk_rekognition::config::Builder::from(sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(config.operation_timeout)
                    .build(),
            )
            .build();
        Self {
            client: Client::from_conf(rekognition),
            region: sdk.region().map(|r| r.to_string()),
            config,
            collections: Mutex::new(HashSet::new()),
            browser_credentials: tokio::sync::Mutex::new(None),
        }
    }

    fn collection(&self, tenant: &TenantId) -> String {
        format!("{}{tenant}", self.config.collection_prefix)
    }

    /// Creates the tenant's collection unless it is known to exist.
    async fn ensure_collection(&self, tenant: &TenantId) -> Result<String, FaceError> {
        let collection = self.collection(tenant);
        if self.known(&collection) {
            return Ok(collection);
        }
        match self
            .client
            .create_collection()
            .collection_id(&collection)
            .send()
            .await
        {
            Ok(_) => tracing::info!(%tenant, %collection, "Rekognition collection created"),
            Err(err) if is_code(&err, "ResourceAlreadyExistsException") => {}
            Err(err) => return Err(aws_error("CreateCollection", err)),
        }
        self.remember(&collection, true);
        Ok(collection)
    }

    fn known(&self, collection: &str) -> bool {
        self.collections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(collection)
    }

    fn remember(&self, collection: &str, exists: bool) {
        let mut known = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        if exists {
            known.insert(collection.to_owned());
        } else {
            known.remove(collection);
        }
    }

    /// The last credentials issued while they have the margin left, else
    /// a new set from the provider (within the operation timeout). Only
    /// temporary credentials (a session token and an expiry) go to a
    /// browser: a provider that answers the host's own long-term keys is
    /// refused, not obeyed.
    async fn browser_credentials(
        &self,
        provider: &SharedCredentialsProvider,
    ) -> Result<Credentials, String> {
        use aws_credential_types::provider::ProvideCredentials;
        let mut cached = self.browser_credentials.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry().is_some_and(|expiry| {
                expiry
                    .duration_since(std::time::SystemTime::now())
                    .is_ok_and(|left| left >= BROWSER_CREDENTIALS_MARGIN)
            })
        };
        if let Some(credentials) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let issued = tokio::time::timeout(
            self.config.operation_timeout,
            provider.provide_credentials(),
        )
        .await
        .map_err(|_| format!("no answer within {:?}", self.config.operation_timeout))?
        .map_err(|err| err.to_string())?;
        if issued.session_token().is_none() || issued.expiry().is_none() {
            return Err("not temporary credentials (no session token or no expiry): refusing to hand them to a browser".into());
        }
        *cached = Some(issued.clone());
        Ok(issued)
    }

    async fn detect_bytes(&self, bytes: &[u8]) -> Result<Vec<DetectedFace>, FaceError> {
        let (width, height) = dimensions(bytes)?;
        let answer = self
            .client
            .detect_faces()
            .image(image(bytes))
            .attributes(Attribute::All)
            .send()
            .await
            .map_err(|err| aws_error("DetectFaces", err))?;
        Ok(answer
            .face_details()
            .iter()
            .map(|detail| attributes::detected_face(detail, width, height))
            .collect())
    }

    /// Searches the probe's image; Rekognition searches the largest face.
    async fn search_image(
        &self,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
        max_faces: i32,
    ) -> Result<Vec<FaceMatch>, FaceError> {
        let bytes = image_bytes(probe)?;
        let collection = self.collection(tenant);
        let answer = match self
            .client
            .search_faces_by_image()
            .collection_id(&collection)
            .image(image(bytes))
            .face_match_threshold(threshold)
            .max_faces(max_faces)
            // The probe's quality was judged when it was made.
            .quality_filter(QualityFilter::None)
            .send()
            .await
        {
            Ok(answer) => answer,
            // No collection yet: nobody enrolled, nobody matches.
            Err(err) if is_code(&err, "ResourceNotFoundException") => {
                self.remember(&collection, false);
                return Ok(Vec::new());
            }
            Err(err) => return Err(aws_error("SearchFacesByImage", err)),
        };
        let mut matches: Vec<FaceMatch> = Vec::new();
        for hit in answer.face_matches() {
            let Some(face) = hit.face() else { continue };
            let (Some(face_id), Some(owner)) = (face.face_id(), face.external_image_id()) else {
                continue;
            };
            // Faces of this collection not indexed by FaceGate name no user.
            let Some((user, _face)) = owner.split_once(':') else {
                continue;
            };
            // Every face, a user's second too: one may be a face the store
            // let go whose deletion is still queued (core drops those).
            matches.push(FaceMatch {
                user_id: UserId::from_string(user),
                provider_face_id: face_id.to_owned(),
                confidence: hit.similarity().unwrap_or(0.0),
            });
        }
        Ok(matches)
    }
}

/// An HTTPS client for the SDK: hyper with rustls on ring (the TLS stack
/// the rest of FaceGate uses), the system's root certificates.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

fn image(bytes: &[u8]) -> Image {
    Image::builder().bytes(Blob::new(bytes)).build()
}

fn image_bytes(probe: &FaceProbe) -> Result<&[u8], FaceError> {
    probe
        .data
        .downcast_ref::<ImageBytes>()
        .map(|i| i.0.as_slice())
        .ok_or_else(|| FaceError::Engine("the probe was not made by the Rekognition engine".into()))
}

/// Width and height from the header, before any request: a file that is
/// not a JPEG or PNG costs no call.
fn dimensions(bytes: &[u8]) -> Result<(f32, f32), FaceError> {
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, image::ImageFormat::Jpeg | image::ImageFormat::Png))
        .ok_or_else(|| FaceError::InvalidImage("not a JPEG or PNG image".into()))?;
    let (width, height) = image::ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|err| FaceError::InvalidImage(format!("cannot read image header: {err}")))?;
    Ok((width as f32, height as f32))
}

#[async_trait]
impl FaceProvider for RekognitionEngine {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    async fn health(&self) -> Result<(), FaceError> {
        self.client
            .list_collections()
            .max_results(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| aws_error("ListCollections", err))
    }

    async fn detect(&self, image: &ImageInput) -> Result<Vec<DetectedFace>, FaceError> {
        self.detect_bytes(&image.bytes()?).await
    }

    async fn probe(&self, image: &ImageInput) -> Result<FaceProbe, FaceError> {
        let bytes = image.bytes()?;
        let faces = self.detect_bytes(&bytes).await?;
        let mut big = faces
            .into_iter()
            .filter(|f| f.bounding_box.height >= self.config.min_face_px);
        let face = big.next().ok_or(FaceError::NoFace)?;
        if big.next().is_some() {
            return Err(FaceError::ManyFaces);
        }
        Ok(FaceProbe {
            angle: attributes::angle(&face).to_owned(),
            face,
            data: Arc::new(ImageBytes(bytes)),
        })
    }

    async fn search(
        &self,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Option<FaceMatch>, FaceError> {
        Ok(self
            .search_image(tenant, probe, threshold, 1)
            .await?
            .into_iter()
            .next())
    }

    async fn search_candidates(
        &self,
        tenant: &TenantId,
        probe: &FaceProbe,
        threshold: f32,
    ) -> Result<Vec<FaceMatch>, FaceError> {
        // Enough faces that a second person shows even when the first has
        // several enrolled, or stale ones (core keeps the stored two).
        self.search_image(tenant, probe, threshold, CANDIDATE_FACES)
            .await
    }

    async fn index(
        &self,
        tenant: &TenantId,
        user: &UserId,
        face_id: &FaceId,
        probe: &FaceProbe,
    ) -> Result<IndexedFace, FaceError> {
        let bytes = image_bytes(probe)?;
        let collection = self.ensure_collection(tenant).await?;
        let request = || {
            self.client
                .index_faces()
                .collection_id(&collection)
                .image(image(bytes))
                .external_image_id(format!("{user}:{face_id}"))
                .max_faces(1)
                .quality_filter(self.config.quality_filter.clone())
        };
        let answer = match request().send().await {
            Ok(answer) => answer,
            // Deleted behind this process's back: made again, once.
            Err(err) if is_code(&err, "ResourceNotFoundException") => {
                self.remember(&collection, false);
                self.ensure_collection(tenant).await?;
                request()
                    .send()
                    .await
                    .map_err(|err| aws_error("IndexFaces", err))?
            }
            Err(err) => return Err(aws_error("IndexFaces", err)),
        };
        let Some(face) = answer.face_records().first().and_then(|r| r.face()) else {
            let reasons: Vec<String> = answer
                .unindexed_faces()
                .iter()
                .flat_map(|u| u.reasons().iter().map(|r| r.as_str().to_owned()))
                .collect();
            tracing::info!(%tenant, ?reasons, "Rekognition indexed no face");
            return Err(FaceError::NoFace);
        };
        let provider_face_id = face
            .face_id()
            .ok_or_else(|| FaceError::Engine("IndexFaces returned a face without an id".into()))?
            .to_owned();
        Ok(IndexedFace {
            provider_face_id,
            template: None,
        })
    }

    fn runs_liveness(&self) -> bool {
        true
    }

    async fn start_liveness(&self, tenant: &TenantId) -> Result<ProviderLivenessStart, FaceError> {
        use aws_sdk_rekognition::types::CreateFaceLivenessSessionRequestSettings;
        let liveness = &self.config.liveness;
        let settings = CreateFaceLivenessSessionRequestSettings::builder()
            .audit_images_limit(liveness.audit_images_limit)
            .build();
        // Credentials first: when STS fails, no session is made at AWS.
        let credentials = match &liveness.browser_credentials {
            Some(provider) => {
                let issued = self.browser_credentials(provider).await.map_err(|err| {
                    tracing::error!(%tenant, error = %err, "no browser credentials for Face Liveness");
                    FaceError::Engine(format!("browser credentials: {err}"))
                })?;
                Some(TemporaryCredentials {
                    access_key_id: issued.access_key_id().to_owned(),
                    secret_access_key: issued.secret_access_key().to_owned(),
                    session_token: issued.session_token().unwrap_or_default().to_owned(),
                })
            }
            None => None,
        };
        let created = self
            .client
            .create_face_liveness_session()
            .settings(settings)
            .send()
            .await
            .map_err(|err| aws_error("CreateFaceLivenessSession", err))?;
        Ok(ProviderLivenessStart {
            session_id: created.session_id().to_owned(),
            credentials,
            region: self.region.clone(),
        })
    }

    async fn finish_liveness(
        &self,
        _tenant: &TenantId,
        session_id: &str,
    ) -> Result<ProviderLivenessResult, FaceError> {
        use aws_sdk_rekognition::types::LivenessSessionStatus as Status;
        let results = match self
            .client
            .get_face_liveness_session_results()
            .session_id(session_id)
            .send()
            .await
        {
            Ok(results) => results,
            // AWS forgets sessions some time after they end.
            Err(err) if is_code(&err, "SessionNotFoundException") => {
                return Ok(ProviderLivenessResult::Expired);
            }
            Err(err) => return Err(aws_error("GetFaceLivenessSessionResults", err)),
        };
        let confidence = results.confidence().unwrap_or(0.0);
        let reference_image = results
            .reference_image()
            .and_then(|image| image.bytes())
            .map(|bytes| {
                use base64::Engine as _;
                ImageInput(base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()))
            });
        Ok(match results.status() {
            Status::Created | Status::InProgress => ProviderLivenessResult::Pending,
            Status::Expired => ProviderLivenessResult::Expired,
            Status::Succeeded => ProviderLivenessResult::Finished {
                live: true,
                confidence,
                reference_image,
            },
            // FAILED, and any status this SDK does not know yet.
            _ => ProviderLivenessResult::Finished {
                live: false,
                confidence,
                reference_image: None,
            },
        })
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        provider_face_ids: &[String],
    ) -> Result<(), FaceError> {
        let collection = self.collection(tenant);
        // DeleteFaces takes up to 4096 ids per call.
        for ids in provider_face_ids.chunks(4096) {
            match self
                .client
                .delete_faces()
                .collection_id(&collection)
                .set_face_ids(Some(ids.to_vec()))
                .send()
                .await
            {
                Ok(_) => {}
                // No collection: nothing of this tenant's is left to delete.
                Err(err) if is_code(&err, "ResourceNotFoundException") => return Ok(()),
                Err(err) => return Err(aws_error("DeleteFaces", err)),
            }
        }
        Ok(())
    }
}
