#!/usr/bin/env python3
"""Drives snowstream's S3 front door with boto3 and the AWS CLI at their current defaults.

Usage: s3_clients_check.py ENDPOINT ACCESS_KEY SECRET_KEY WORKDIR
Bucket "raw" must map to a stream. Prints one JSON object on stdout:
{"accepted": {key: records}, "rejected": [key, ...]} for the caller to check against what
landed. Exits non-zero when a client call does not answer as S3 would.
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config

endpoint, ak, sk, workdir = sys.argv[1:5]
accepted, rejected = {}, []


def client(secret=sk):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        rejected.append(kw.get("Key", ""))
        return
    raise AssertionError(f"expected {code}, call succeeded: {kw}")


def ndjson(prefix, n):
    return "".join(json.dumps({"id": f"{prefix}-{i}", "n": i}) + "\n" for i in range(n)).encode()


s3 = client()

# put_object: CSV, JSON, NDJSON, each plain and gzip; ETag is the MD5 of the body.
csv = b"id,name\n" + b"".join(f"csv-{i},name {i}\n".encode() for i in range(50))
bodies = {
    "boto/people.csv": (csv, 50),
    "boto/people.csv.gz": (gzip.compress(csv.replace(b"csv-", b"csvgz-")), 50),
    "boto/batch.json": (json.dumps([{"id": f"json-{i}"} for i in range(20)]).encode(), 20),
    "boto/batch.json.gz": (gzip.compress(json.dumps([{"id": f"jsongz-{i}"} for i in range(20)]).encode()), 20),
    "boto/lines.ndjson": (ndjson("nd", 30), 30),
    "boto/lines.jsonl.gz": (gzip.compress(ndjson("ndgz", 30)), 30),
}
for key, (body, n) in bodies.items():
    r = s3.put_object(Bucket="raw", Key=key, Body=body, Metadata={"client": "boto3"})
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), r["ETag"]
    accepted[key] = n

# A file object body (boto3 streams it).
path = os.path.join(workdir, "stream.ndjson")
with open(path, "wb") as f:
    f.write(ndjson("file", 500))
with open(path, "rb") as f:
    s3.put_object(Bucket="raw", Key="boto/file.ndjson", Body=f)
accepted["boto/file.ndjson"] = 500

# Multipart, 3 parts (a record spans the part boundaries), then list shows nothing left.
mp = ndjson("mp", 3000)
cut = [0, len(mp) // 3 + 7, 2 * len(mp) // 3 + 3, len(mp)]
up = s3.create_multipart_upload(Bucket="raw", Key="boto/mp.ndjson")
parts = []
for i in range(3):
    chunk = mp[cut[i]:cut[i + 1]]
    r = s3.upload_part(Bucket="raw", Key="boto/mp.ndjson", UploadId=up["UploadId"], PartNumber=i + 1, Body=chunk)
    assert r["ETag"] == '"%s"' % hashlib.md5(chunk).hexdigest()
    parts.append({"PartNumber": i + 1, "ETag": r["ETag"]})
listed = s3.list_parts(Bucket="raw", Key="boto/mp.ndjson", UploadId=up["UploadId"])
assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
r = s3.complete_multipart_upload(Bucket="raw", Key="boto/mp.ndjson", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
digests = b"".join(hashlib.md5(mp[cut[i]:cut[i + 1]]).digest() for i in range(3))
assert r["ETag"] == '"%s-3"' % hashlib.md5(digests).hexdigest(), r["ETag"]
accepted["boto/mp.ndjson"] = 3000

# Abort: the upload's part never lands.
up = s3.create_multipart_upload(Bucket="raw", Key="boto/aborted.ndjson")
s3.upload_part(Bucket="raw", Key="boto/aborted.ndjson", UploadId=up["UploadId"], PartNumber=1, Body=ndjson("aborted", 5))
s3.abort_multipart_upload(Bucket="raw", Key="boto/aborted.ndjson", UploadId=up["UploadId"])
assert s3.list_multipart_uploads(Bucket="raw").get("Uploads", []) == []
rejected.append("boto/aborted.ndjson")

# Presigned PUT: SigV4 works; boto3's default against a custom endpoint (query-string SigV2)
# is refused as Amazon S3 refuses it (InvalidRequest: use AWS4-HMAC-SHA256).
def presigned_put(c, key, body):
    url = c.generate_presigned_url("put_object", Params={"Bucket": "raw", "Key": key}, ExpiresIn=300)
    req = urllib.request.Request(url, data=body, method="PUT")
    # urllib would add a form Content-Type, which is part of what a SigV2 URL signs.
    req.add_header("Content-Type", "")
    try:
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 200
    except urllib.error.HTTPError as e:
        raise AssertionError(f"presigned PUT {url}: {e.code} {e.read().decode()}")


try:
    presigned_put(s3, "boto/presigned-v2.ndjson", ndjson("prev2", 3))
    raise AssertionError("a SigV2 presigned PUT was accepted")
except AssertionError as e:
    if "400" not in str(e) or "InvalidRequest" not in str(e):
        raise
rejected.append("boto/presigned-v2.ndjson")
v4 = boto3.client(
    "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
)
presigned_put(v4, "boto/presigned-v4.ndjson", ndjson("prev4", 4))
accepted["boto/presigned-v4.ndjson"] = 4

# Refusals: wrong secret, unknown bucket, checksum and MD5 mismatches, bad records.
expect_error("SignatureDoesNotMatch", client("wrong-secret").put_object, Bucket="raw", Key="boto/wrong-secret.ndjson", Body=ndjson("ws", 2))
expect_error("NoSuchBucket", s3.put_object, Bucket="nosuchbucket", Key="boto/nobucket.ndjson", Body=ndjson("nb", 2))
expect_error("BadDigest", s3.put_object, Bucket="raw", Key="boto/badcrc.ndjson", Body=ndjson("bc", 2), ChecksumCRC32="AAAAAA==")
expect_error("BadDigest", s3.put_object, Bucket="raw", Key="boto/badmd5.ndjson", Body=ndjson("bm", 2), ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
expect_error("InvalidArgument", s3.put_object, Bucket="raw", Key="boto/bad.ndjson", Body=b'{"id":"bad-1"}\nnot json\n')

# AWS Signature Version 2 in the Authorization header (boto3's "s3" signer): never expires and
# does not cover the body, so refused as Amazon S3 refuses it for buckets made since 2020.
v2 = boto3.client(
    "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, signature_version="s3", retries={"max_attempts": 1}),
)
expect_error("InvalidRequest", v2.put_object, Bucket="raw", Key="boto/sigv2.ndjson", Body=ndjson("v2", 2))

# Buckets, as the CLI and SDKs probe them.
s3.head_bucket(Bucket="raw")
assert "raw" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

# The AWS CLI: a small object and one above its 8 MB multipart threshold.
env = dict(os.environ, AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk, AWS_DEFAULT_REGION="us-east-1")
cfg = os.path.join(workdir, "aws-config")
with open(cfg, "w") as f:
    f.write("[default]\ns3 =\n    addressing_style = path\n")
env["AWS_CONFIG_FILE"] = cfg
env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(workdir, "no-credentials")
aws = os.path.join(os.path.dirname(sys.executable), "aws")
small = os.path.join(workdir, "cli-small.csv")
with open(small, "wb") as f:
    f.write(b"id,x\n" + b"".join(f"cli-{i},{i}\n".encode() for i in range(10)))
big = os.path.join(workdir, "cli-big.ndjson")
with open(big, "wb") as f:
    f.write("".join(json.dumps({"id": f"big-{i}", "pad": "x" * 100}) + "\n" for i in range(90000)).encode())
assert os.path.getsize(big) > 9 * 1024 * 1024
for src, key, n in [(small, "cli/small.csv", 10), (big, "cli/big.ndjson", 90000)]:
    subprocess.run([aws, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", src, f"s3://raw/{key}"],
                   env=env, check=True, stdout=sys.stderr)
    accepted[key] = n

print(json.dumps({"accepted": accepted, "rejected": rejected}))
