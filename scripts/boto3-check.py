#!/usr/bin/env python3
"""facegate-rekognition-peer seen through boto3, an SDK written apart from
the Rust one: if botocore's signer, serializer and parser accept the peer,
the peer speaks AWS's wire protocol and not just what aws-sdk-rust expects.

Usage: boto3-check.py [ENDPOINT]   (else $FACEGATE_PEER_URL, else http://127.0.0.1:4597)
Keys: $PEER_ACCESS_KEY_ID / $PEER_SECRET_ACCESS_KEY (the peer's defaults).
Photos: $FACEGATE_TESTDATA_DIR/face_recognition/ (scripts/fetch-testdata).
Run by scripts/aws-test-peers boto3-check, which starts the peer.
"""

import json
import os
import sys
import urllib.request
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = (sys.argv[1:] or [os.environ.get("FACEGATE_PEER_URL", "http://127.0.0.1:4597")])[0]
KEY = os.environ.get("PEER_ACCESS_KEY_ID", "AKIDFACEGATEPEER")
SECRET = os.environ.get("PEER_SECRET_ACCESS_KEY", "facegate-peer-secret")
REGION = "eu-west-1"
PHOTOS = Path(
    os.environ.get("FACEGATE_TESTDATA_DIR", Path.home() / ".cache/facegate/testdata")
) / "face_recognition"


def client(secret=SECRET, key=KEY):
    # One attempt: a retried error would hide what the peer answered first.
    return boto3.client(
        "rekognition",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def image(name):
    return {"Bytes": (PHOTOS / name).read_bytes()}


def error_code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call succeeded")


rek = client()
collection = f"boto3-check-{uuid.uuid4().hex[:8]}"
state = {}
passed = failed = 0


def step(name, check):
    global passed, failed
    try:
        detail = check()
        passed += 1
        print(f"ok   {name}: {detail}")
    except Exception as err:  # one line per failure, and go on to clean up
        failed += 1
        print(f"FAIL {name}: {type(err).__name__}: {err}")


def create():
    r = rek.create_collection(CollectionId=collection)
    assert r["StatusCode"] == 200, r
    assert r["CollectionArn"].endswith(f":{REGION}:000000000000:collection/{collection}"), r
    return r["CollectionArn"]


def index():
    r = rek.index_faces(
        CollectionId=collection, Image=image("obama.jpg"), ExternalImageId="obama", MaxFaces=1
    )
    assert len(r["FaceRecords"]) == 1, r
    face = r["FaceRecords"][0]["Face"]
    assert face["ExternalImageId"] == "obama", face
    state["face_id"] = face["FaceId"]
    return f"FaceId {face['FaceId']}"


def search_same():
    r = rek.search_faces_by_image(
        CollectionId=collection, Image=image("obama2.jpg"), FaceMatchThreshold=80
    )
    matches = r["FaceMatches"]
    assert matches, "no match"
    best = matches[0]
    assert best["Face"]["FaceId"] == state.get("face_id"), best
    assert best["Face"]["ExternalImageId"] == "obama", best
    assert best["Similarity"] > 80, best
    return f"{len(matches)} match, Similarity {best['Similarity']:.1f}"


def search_other():
    r = rek.search_faces_by_image(
        CollectionId=collection, Image=image("biden.jpg"), FaceMatchThreshold=80
    )
    assert r["FaceMatches"] == [], r["FaceMatches"]
    return f"no match (searched face confidence {r['SearchedFaceConfidence']:.1f})"


def detect():
    r = rek.detect_faces(Image=image("obama.jpg"), Attributes=["ALL"])
    details = r["FaceDetails"]
    assert len(details) == 1, details
    d = details[0]
    for field in ("BoundingBox", "AgeRange", "Pose", "Quality"):
        assert field in d, f"{field} missing: {d}"
    return f"AgeRange {d['AgeRange']}, Pose yaw {d['Pose']['Yaw']:.1f}"


def wrong_secret():
    # sigv4.rs: a known key with a wrong signature is InvalidSignatureException (400).
    got = error_code(lambda: client(secret="not-the-secret").list_collections())
    assert got == ("InvalidSignatureException", 400), got
    return f"{got[0]} ({got[1]})"


def unknown_key():
    got = error_code(lambda: client(key="AKIDNOTKNOWN").list_collections())
    assert got == ("UnrecognizedClientException", 400), got
    return f"{got[0]} ({got[1]})"


def delete():
    r = rek.delete_collection(CollectionId=collection)
    assert r["StatusCode"] == 200, r
    got = error_code(lambda: rek.describe_collection(CollectionId=collection))
    assert got[0] == "ResourceNotFoundException", got
    return f"gone ({got[0]} after)"


def calls():
    # The peer's own count: the answers came from it, not something else on the port.
    with urllib.request.urlopen(f"{ENDPOINT}/_peer/calls", timeout=10) as r:
        counted = json.load(r)
    for op in ("CreateCollection", "IndexFaces", "SearchFacesByImage", "DetectFaces"):
        assert counted.get(op, 0) >= 1, counted
    return json.dumps(counted, sort_keys=True)


print(f"boto3 {boto3.__version__} against {ENDPOINT} (region {REGION}, collection {collection})")
step("CreateCollection", create)
step("IndexFaces obama.jpg", index)
step("SearchFacesByImage obama2.jpg finds obama", search_same)
step("SearchFacesByImage biden.jpg finds nobody", search_other)
step("DetectFaces ALL", detect)
step("wrong secret is refused", wrong_secret)
step("unknown access key is refused", unknown_key)
step("DeleteCollection", delete)
step("peer counted the calls", calls)
print(f"boto3-check: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
