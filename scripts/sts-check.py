#!/usr/bin/env python3
"""What moto's STS does with the AssumeRole call FaceGate makes for the
browser's Face Liveness credentials: the self-test of
`scripts/aws-test-peers start-sts`, and a record of moto's behaviour that
the Rust test with aws-config's AssumeRoleProvider relies on.

Usage: sts-check.py [URL]   (else $FACEGATE_TEST_STS_URL, else http://127.0.0.1:4598)

moto (5.2.5, default settings) as seen here:
- it checks no signature and accepts any access key and secret;
- AssumeRole needs no role in moto's IAM, nor a trust policy;
- the account is the one in the role ARN (moto's default is 123456789012);
- the temporary keys are ASIA... ids that GetCallerIdentity maps back to
  the assumed-role ARN.
Started with INITIAL_NO_AUTH_ACTION_COUNT=N, moto does check signatures
(SignatureDoesNotMatch) and IAM policies after the first N requests.
"""

import datetime
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError

URL = (sys.argv[1:] or [os.environ.get("FACEGATE_TEST_STS_URL", "http://127.0.0.1:4598")])[0]
ROLE_ARN = "arn:aws:iam::123456789012:role/facegate-liveness-browser"
SESSION = "facegate-check"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "rekognition:StartFaceLivenessSession", "Resource": "*"}
        ],
    }
)
passed = failed = 0
temporary = {}  # AssumeRole's credentials, for the next step


def client(service, key="testing", secret="testing", token=None):
    return boto3.client(
        service,
        endpoint_url=URL,
        region_name="eu-west-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def step(name, check):
    global passed, failed
    try:
        result = check()
        passed += 1
        print(f"ok   {name}: {result}")
    except Exception as err:  # one line per failure, and go on
        failed += 1
        print(f"FAIL {name}: {type(err).__name__}: {err}")


def role_absent():
    try:
        client("iam").get_role(RoleName="facegate-liveness-browser")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "NoSuchEntity", err.response
        return "NoSuchEntity (no role is created before AssumeRole)"
    raise AssertionError("the role exists already")


def assume():
    before = datetime.datetime.now(datetime.timezone.utc)
    r = client("sts").assume_role(
        RoleArn=ROLE_ARN, RoleSessionName=SESSION, Policy=POLICY, DurationSeconds=900
    )
    c, user = r["Credentials"], r["AssumedRoleUser"]
    assert c["AccessKeyId"].startswith("ASIA") and c["SecretAccessKey"] and c["SessionToken"], c
    lifetime = (c["Expiration"] - before).total_seconds()
    assert 880 <= lifetime <= 920, f"expires in {lifetime:.0f} s"
    assert user["Arn"] == f"arn:aws:sts::123456789012:assumed-role/facegate-liveness-browser/{SESSION}", user
    temporary.update(c)
    return (
        f"AccessKeyId {c['AccessKeyId']}, secret {len(c['SecretAccessKey'])} chars, "
        f"token {len(c['SessionToken'])} chars, expires in {lifetime:.0f} s, "
        f"AssumedRoleId {user['AssumedRoleId']}, PackedPolicySize {r.get('PackedPolicySize')}"
    )


def caller():
    c = temporary
    r = client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
    assert r["Account"] == "123456789012", r
    assert r["Arn"] == f"arn:aws:sts::123456789012:assumed-role/facegate-liveness-browser/{SESSION}", r
    return f"Account {r['Account']}, Arn {r['Arn']}, UserId {r['UserId']}"


def any_key():
    r = client("sts", "AKIDANYTHING", "any-secret").get_caller_identity()
    return f"any key accepted: Account {r['Account']}, Arn {r['Arn']}"


print(f"boto3 {boto3.__version__} against {URL}")
step("IAM GetRole facegate-liveness-browser", role_absent)
step("AssumeRole with a session policy, 900 s", assume)
step("GetCallerIdentity with the temporary keys", caller)
step("GetCallerIdentity with made-up keys", any_key)
print(f"sts-check: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
