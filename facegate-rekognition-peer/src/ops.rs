//! Rekognition's collection and face operations, over the local engine.
//! Each collection is one of the engine's tenants: its index holds the
//! collection's faces, and a search is the engine's own 1:N search.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::providers::face::{
    BoundingBox, DetectedFace, FaceError, FaceProvider, ImageInput,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{AwsError, Caller, FACE_MODEL_VERSION, Peer, liveness, lock};

/// Rekognition's limit for image bytes in a request.
const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;

#[derive(Default)]
pub(crate) struct Data {
    collections: HashMap<CollectionKey, Collection>,
    pub(crate) sessions: HashMap<String, liveness::Session>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct CollectionKey {
    account_id: String,
    region: String,
    id: String,
}

struct Collection {
    created_at: DateTime<Utc>,
    /// The engine tenant holding this collection's index.
    tenant: TenantId,
    faces: BTreeMap<String, StoredFace>,
}

#[derive(Clone)]
struct StoredFace {
    external_image_id: Option<String>,
    image_id: String,
    bounding_box: Value,
    confidence: f32,
}

impl StoredFace {
    fn json(&self, face_id: &str) -> Value {
        json!({
            "FaceId": face_id,
            "BoundingBox": self.bounding_box,
            "ImageId": self.image_id,
            "ExternalImageId": self.external_image_id,
            "Confidence": self.confidence,
            "IndexFacesModelVersion": FACE_MODEL_VERSION,
        })
    }
}

impl CollectionKey {
    fn new(caller: &Caller, id: &str) -> Result<Self, AwsError> {
        let valid = !id.is_empty()
            && id.len() <= 255
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid {
            return Err(AwsError::validation(format!(
                "CollectionId '{id}' must match [a-zA-Z0-9_.\\-]+ and be at most 255 characters"
            )));
        }
        Ok(Self {
            account_id: caller.account_id.clone(),
            region: caller.region.clone(),
            id: id.to_owned(),
        })
    }

    fn arn(&self) -> String {
        format!(
            "aws:rekognition:{}:{}:collection/{}",
            self.region, self.account_id, self.id
        )
    }

    /// The engine tenant for this collection: a stable, valid tenant id.
    fn tenant(&self) -> TenantId {
        let digest = Sha256::digest(format!("{}/{}/{}", self.account_id, self.region, self.id));
        TenantId::from_string(format!("ten_peer{}", &hex::encode(digest)[..24]))
    }
}

/// Rekognition's `Image` structure. The peer holds no S3 objects.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Image {
    pub(crate) bytes: Option<String>,
    pub(crate) s3_object: Option<Value>,
}

/// An image of a request, checked as Rekognition does before any model runs.
pub(crate) struct CheckedImage {
    pub(crate) input: ImageInput,
    pub(crate) width: f32,
    pub(crate) height: f32,
}

impl Image {
    pub(crate) fn check(self) -> Result<CheckedImage, AwsError> {
        if self.s3_object.is_some() {
            return Err(AwsError::invalid_parameter(
                "the Rekognition peer holds no S3 objects: send Image.Bytes",
            ));
        }
        let Some(encoded) = self.bytes else {
            return Err(AwsError::validation("Image.Bytes is required"));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|_| {
                AwsError::new(400, "SerializationException", "Image.Bytes is not base64")
            })?;
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(AwsError::new(
                400,
                "ImageTooLargeException",
                "Image size is too large.",
            ));
        }
        let (width, height) = image::ImageReader::new(Cursor::new(&bytes))
            .with_guessed_format()
            .ok()
            .and_then(|reader| reader.into_dimensions().ok())
            .ok_or_else(invalid_image_format)?;
        Ok(CheckedImage {
            input: ImageInput(encoded),
            width: width as f32,
            height: height as f32,
        })
    }
}

fn invalid_image_format() -> AwsError {
    AwsError::new(
        400,
        "InvalidImageFormatException",
        "Request has invalid image format",
    )
}

/// An engine failure as Rekognition would answer it.
pub(crate) fn engine_error(err: FaceError) -> AwsError {
    match err {
        FaceError::InvalidImage(_) => invalid_image_format(),
        FaceError::TooLarge(_) => {
            AwsError::new(400, "ImageTooLargeException", "Image size is too large.")
        }
        FaceError::Busy => AwsError::new(
            400,
            "ProvisionedThroughputExceededException",
            "Provisioned rate exceeded",
        ),
        FaceError::NoFace
        | FaceError::ManyFaces
        | FaceError::Unsupported(_)
        | FaceError::Engine(_) => AwsError::internal(err.to_string()),
    }
}

/// A pixel box as Rekognition reports boxes: ratios of the image's size.
pub(crate) fn ratio_box(b: &BoundingBox, image: &CheckedImage) -> Value {
    json!({
        "Width": b.width / image.width,
        "Height": b.height / image.height,
        "Left": b.left / image.width,
        "Top": b.top / image.height,
    })
}

fn parse<T: for<'de> Deserialize<'de>>(input: Value) -> Result<T, AwsError> {
    serde_json::from_value(input).map_err(|err| AwsError::validation(err.to_string()))
}

pub(crate) async fn dispatch(
    peer: &Peer,
    caller: &Caller,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    match operation {
        "CreateCollection" => create_collection(peer, caller, parse(input)?).await,
        "DeleteCollection" => delete_collection(peer, caller, parse(input)?).await,
        "DescribeCollection" => describe_collection(peer, caller, parse(input)?),
        "ListCollections" => Ok(list_collections(peer, caller)),
        "IndexFaces" => index_faces(peer, caller, parse(input)?).await,
        "SearchFacesByImage" => search_faces_by_image(peer, caller, parse(input)?).await,
        "DeleteFaces" => delete_faces(peer, caller, parse(input)?).await,
        "ListFaces" => list_faces(peer, caller, parse(input)?),
        "DetectFaces" => detect_faces(peer, parse(input)?).await,
        "CreateFaceLivenessSession" => liveness::create_session(peer, caller, parse(input)?),
        "GetFaceLivenessSessionResults" => liveness::results(peer, caller, parse(input)?),
        other => Err(AwsError::new(
            400,
            "UnknownOperationException",
            format!("the Rekognition peer does not implement {other}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CollectionRequest {
    collection_id: String,
}

async fn create_collection(
    peer: &Peer,
    caller: &Caller,
    request: CollectionRequest,
) -> Result<Value, AwsError> {
    let key = CollectionKey::new(caller, &request.collection_id)?;
    let tenant = key.tenant();
    {
        let mut data = lock(&peer.state.data);
        if data.collections.contains_key(&key) {
            return Err(AwsError::new(
                400,
                "ResourceAlreadyExistsException",
                format!("The collection id: {} already exists", key.id),
            ));
        }
        data.collections.insert(
            key.clone(),
            Collection {
                created_at: peer.now(),
                tenant: tenant.clone(),
                faces: BTreeMap::new(),
            },
        );
    }
    // An empty index (a collection deleted and made again starts empty).
    peer.state
        .engine
        .restore(&tenant, &[])
        .await
        .map_err(engine_error)?;
    Ok(json!({
        "StatusCode": 200,
        "CollectionArn": key.arn(),
        "FaceModelVersion": FACE_MODEL_VERSION,
    }))
}

fn missing_collection(key: &CollectionKey) -> AwsError {
    AwsError::not_found(format!("The collection id: {} does not exist", key.id))
}

async fn delete_collection(
    peer: &Peer,
    caller: &Caller,
    request: CollectionRequest,
) -> Result<Value, AwsError> {
    let key = CollectionKey::new(caller, &request.collection_id)?;
    let removed = lock(&peer.state.data).collections.remove(&key);
    let collection = removed.ok_or_else(|| missing_collection(&key))?;
    peer.state
        .engine
        .restore(&collection.tenant, &[])
        .await
        .map_err(engine_error)?;
    Ok(json!({ "StatusCode": 200 }))
}

fn describe_collection(
    peer: &Peer,
    caller: &Caller,
    request: CollectionRequest,
) -> Result<Value, AwsError> {
    let key = CollectionKey::new(caller, &request.collection_id)?;
    let data = lock(&peer.state.data);
    let collection = data
        .collections
        .get(&key)
        .ok_or_else(|| missing_collection(&key))?;
    Ok(json!({
        "FaceCount": collection.faces.len(),
        "UserCount": 0,
        "FaceModelVersion": FACE_MODEL_VERSION,
        "CollectionARN": key.arn(),
        "CreationTimestamp": collection.created_at.timestamp(),
    }))
}

fn list_collections(peer: &Peer, caller: &Caller) -> Value {
    let data = lock(&peer.state.data);
    let mut ids: Vec<&str> = data
        .collections
        .keys()
        .filter(|k| k.account_id == caller.account_id && k.region == caller.region)
        .map(|k| k.id.as_str())
        .collect();
    ids.sort_unstable();
    let versions = vec![FACE_MODEL_VERSION; ids.len()];
    json!({ "CollectionIds": ids, "FaceModelVersions": versions })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexFacesRequest {
    collection_id: String,
    image: Image,
    external_image_id: Option<String>,
    max_faces: Option<u32>,
}

async fn index_faces(
    peer: &Peer,
    caller: &Caller,
    request: IndexFacesRequest,
) -> Result<Value, AwsError> {
    let key = CollectionKey::new(caller, &request.collection_id)?;
    if let Some(external) = &request.external_image_id {
        let valid = !external.is_empty()
            && external.len() <= 255
            && external
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-:".contains(&b));
        if !valid {
            return Err(AwsError::validation(
                "ExternalImageId must match [a-zA-Z0-9_.\\-:]+ and be at most 255 characters",
            ));
        }
    }
    if request.max_faces == Some(0) {
        return Err(AwsError::validation("MaxFaces must be at least 1"));
    }
    let tenant = collection_tenant(peer, &key)?;
    let image = request.image.check()?;
    let engine = &peer.state.engine;
    let probe = match engine.probe(&image.input).await {
        Ok(probe) => probe,
        // Rekognition indexes nothing and says nothing for a faceless image.
        Err(FaceError::NoFace) => return Ok(index_answer(Vec::new(), Vec::new())),
        // The peer indexes single faces only (see the crate's docs): with
        // MaxFaces 1 every face of a crowded picture is left out.
        Err(FaceError::ManyFaces) => {
            return Ok(index_answer(
                Vec::new(),
                vec![json!({ "Reasons": ["EXCEEDS_MAX_FACES"] })],
            ));
        }
        Err(err) => return Err(engine_error(err)),
    };
    let face_id = uuid::Uuid::new_v4().to_string();
    // The engine's "user" of a face is what Rekognition reports with a hit.
    let owner = request.external_image_id.clone().unwrap_or_default();
    engine
        .index(
            &tenant,
            &UserId::from_string(owner),
            &FaceId::from_string(face_id.clone()),
            &probe,
        )
        .await
        .map_err(engine_error)?;
    let stored = StoredFace {
        external_image_id: request.external_image_id,
        image_id: uuid::Uuid::new_v4().to_string(),
        bounding_box: ratio_box(&probe.face.bounding_box, &image),
        confidence: probe.face.confidence,
    };
    let record = json!({
        "Face": stored.json(&face_id),
        "FaceDetail": { "BoundingBox": stored.bounding_box, "Confidence": stored.confidence },
    });
    let kept = {
        let mut data = lock(&peer.state.data);
        match data.collections.get_mut(&key) {
            // Deleted meanwhile: the face went with its collection.
            Some(collection) if collection.tenant == tenant => {
                collection.faces.insert(face_id.clone(), stored);
                true
            }
            _ => false,
        }
    };
    if !kept {
        engine
            .delete(&tenant, &[face_id])
            .await
            .map_err(engine_error)?;
        return Err(missing_collection(&key));
    }
    Ok(index_answer(vec![record], Vec::new()))
}

fn index_answer(records: Vec<Value>, unindexed: Vec<Value>) -> Value {
    json!({
        "FaceRecords": records,
        "FaceModelVersion": FACE_MODEL_VERSION,
        "UnindexedFaces": unindexed,
    })
}

fn collection_tenant(peer: &Peer, key: &CollectionKey) -> Result<TenantId, AwsError> {
    lock(&peer.state.data)
        .collections
        .get(key)
        .map(|c| c.tenant.clone())
        .ok_or_else(|| missing_collection(key))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchRequest {
    collection_id: String,
    image: Image,
    max_faces: Option<u32>,
    face_match_threshold: Option<f32>,
}

async fn search_faces_by_image(
    peer: &Peer,
    caller: &Caller,
    request: SearchRequest,
) -> Result<Value, AwsError> {
    let key = CollectionKey::new(caller, &request.collection_id)?;
    let threshold = request.face_match_threshold.unwrap_or(80.0);
    if !(0.0..=100.0).contains(&threshold) {
        return Err(AwsError::validation("FaceMatchThreshold must be 0 to 100"));
    }
    let max_faces = request.max_faces.unwrap_or(80).clamp(1, 4096) as usize;
    let tenant = collection_tenant(peer, &key)?;
    let image = request.image.check()?;
    let engine = &peer.state.engine;
    let probe = match engine.probe(&image.input).await {
        Ok(probe) => probe,
        Err(FaceError::NoFace) => {
            return Err(AwsError::invalid_parameter(
                "There are no faces in the image. Should be at least 1.",
            ));
        }
        Err(FaceError::ManyFaces) => {
            return Err(AwsError::invalid_parameter(
                "the Rekognition peer searches images with one face",
            ));
        }
        Err(err) => return Err(engine_error(err)),
    };
    // The engine reports the best two people at most.
    let hits = engine
        .search_candidates(&tenant, &probe, threshold)
        .await
        .map_err(engine_error)?;
    let data = lock(&peer.state.data);
    let faces = data.collections.get(&key).map(|c| &c.faces);
    let matches: Vec<Value> = hits
        .iter()
        .filter_map(|hit| {
            let stored = faces?.get(&hit.provider_face_id)?;
            Some(json!({
                "Similarity": hit.confidence,
                "Face": stored.json(&hit.provider_face_id),
            }))
        })
        .take(max_faces)
        .collect();
    Ok(json!({
        "SearchedFaceBoundingBox": ratio_box(&probe.face.bounding_box, &image),
        "SearchedFaceConfidence": probe.face.confidence,
        "FaceMatches": matches,
        "FaceModelVersion": FACE_MODEL_VERSION,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteFacesRequest {
    collection_id: String,
    face_ids: Vec<String>,
}

async fn delete_faces(
    peer: &Peer,
    caller: &Caller,
    request: DeleteFacesRequest,
) -> Result<Value, AwsError> {
    let key = CollectionKey::new(caller, &request.collection_id)?;
    if request.face_ids.is_empty() || request.face_ids.len() > 4096 {
        return Err(AwsError::validation("FaceIds takes 1 to 4096 ids"));
    }
    let (tenant, deleted) = {
        let mut data = lock(&peer.state.data);
        let collection = data
            .collections
            .get_mut(&key)
            .ok_or_else(|| missing_collection(&key))?;
        let deleted: Vec<String> = request
            .face_ids
            .iter()
            .filter(|id| collection.faces.remove(*id).is_some())
            .cloned()
            .collect();
        (collection.tenant.clone(), deleted)
    };
    peer.state
        .engine
        .delete(&tenant, &deleted)
        .await
        .map_err(engine_error)?;
    Ok(json!({ "DeletedFaces": deleted, "UnsuccessfulFaceDeletions": [] }))
}

fn list_faces(peer: &Peer, caller: &Caller, request: CollectionRequest) -> Result<Value, AwsError> {
    let key = CollectionKey::new(caller, &request.collection_id)?;
    let data = lock(&peer.state.data);
    let collection = data
        .collections
        .get(&key)
        .ok_or_else(|| missing_collection(&key))?;
    let faces: Vec<Value> = collection
        .faces
        .iter()
        .map(|(id, face)| face.json(id))
        .collect();
    Ok(json!({ "Faces": faces, "FaceModelVersion": FACE_MODEL_VERSION }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DetectFacesRequest {
    image: Image,
    attributes: Option<Vec<String>>,
}

async fn detect_faces(peer: &Peer, request: DetectFacesRequest) -> Result<Value, AwsError> {
    let all = request
        .attributes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|a| a == "ALL");
    let image = request.image.check()?;
    let faces = peer
        .state
        .engine
        .detect(&image.input)
        .await
        .map_err(engine_error)?;
    let details: Vec<Value> = faces
        .iter()
        .map(|face| face_detail(face, &image, all))
        .collect();
    Ok(json!({ "FaceDetails": details }))
}

/// The local engine's attributes in Rekognition's `FaceDetail` shape.
/// DEFAULT: box, confidence, pose, quality; ALL adds age range, gender and
/// eyes open. Landmarks, emotions, smile, beard and the rest the local
/// engine does not estimate are left out, not made up.
fn face_detail(face: &DetectedFace, image: &CheckedImage, all: bool) -> Value {
    let a = &face.attributes;
    let number = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut detail = json!({
        "BoundingBox": ratio_box(&face.bounding_box, image),
        "Confidence": face.confidence,
        "Pose": {
            "Yaw": number(&a["pose"]["yaw"]),
            "Pitch": number(&a["pose"]["pitch"]),
            "Roll": number(&a["pose"]["roll"]),
        },
        "Quality": {
            "Sharpness": number(&a["sharpness"]),
            "Brightness": number(&a["brightness"]),
        },
    });
    if all {
        let open = a["eyes_open"]["left"].as_bool() == Some(true)
            && a["eyes_open"]["right"].as_bool() == Some(true);
        let eye_confidence = number(&a["eyes_open"]["left_confidence"])
            .min(number(&a["eyes_open"]["right_confidence"]));
        detail["AgeRange"] = json!({
            "Low": number(&a["age_range"]["low"]),
            "High": number(&a["age_range"]["high"]),
        });
        detail["Gender"] = json!({
            "Value": if a["gender"]["value"] == "male" { "Male" } else { "Female" },
            "Confidence": number(&a["gender"]["confidence"]),
        });
        // Rekognition's confidence is in its answer (open or closed).
        detail["EyesOpen"] = json!({
            "Value": open,
            "Confidence": if open { eye_confidence } else { 100.0 - eye_confidence },
        });
    }
    detail
}

impl Data {
    /// Faces held in all collections of all accounts.
    pub(crate) fn face_count(&self) -> usize {
        self.collections.values().map(|c| c.faces.len()).sum()
    }
}
