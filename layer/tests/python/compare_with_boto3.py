"""Reads secrets through the layer the way AWS's documented Python example does (urllib, the token
header) and compares every field with boto3's GetSecretValue on the same Secrets Manager (moto).

Environment: LAYER_URL (http://127.0.0.1:PORT), AWS_SESSION_TOKEN, MOTO_URL, SECRET_IDS (comma-separated).
Exit status 0 when every field of every answer is equal; the differences otherwise.
"""

import base64
import json
import os
import sys
import urllib.parse
import urllib.request

import boto3

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def from_layer(params):
    url = os.environ["LAYER_URL"] + "/secretsmanager/get?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]})
    with OPENER.open(request, timeout=10) as response:
        return json.loads(response.read())


def main():
    client = boto3.client(
        "secretsmanager",
        endpoint_url=os.environ["MOTO_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    failures, compared = [], 0
    for secret_id in os.environ["SECRET_IDS"].split(","):
        current = client.get_secret_value(SecretId=secret_id)
        shapes = [
            {"secretId": secret_id},
            {"secretId": secret_id, "versionStage": "AWSCURRENT"},
            {"secretId": secret_id, "versionId": current["VersionId"]},
        ]
        for params in shapes:
            got = from_layer(params)
            sdk_params = {"SecretId": secret_id}
            if "versionStage" in params:
                sdk_params["VersionStage"] = params["versionStage"]
            if "versionId" in params:
                sdk_params["VersionId"] = params["versionId"]
            want = client.get_secret_value(**sdk_params)
            fields = {
                "ARN": (got.get("ARN"), want["ARN"]),
                "Name": (got.get("Name"), want["Name"]),
                "VersionId": (got.get("VersionId"), want["VersionId"]),
                "VersionStages": (sorted(got.get("VersionStages", [])), sorted(want["VersionStages"])),
                # boto3 reads the number of seconds into a datetime; the layer sends the number.
                "CreatedDate": (round(got.get("CreatedDate", 0), 3), round(want["CreatedDate"].timestamp(), 3)),
                "SecretString": (got.get("SecretString"), want.get("SecretString")),
                # boto3 decodes the base64 on the wire into bytes.
                "SecretBinary": (
                    base64.b64decode(got["SecretBinary"]) if "SecretBinary" in got else None,
                    want.get("SecretBinary"),
                ),
            }
            for field, (layer_value, boto3_value) in fields.items():
                compared += 1
                if layer_value != boto3_value:
                    # Field names and shapes only: never the values themselves.
                    failures.append(f"{secret_id} {params}: {field} differs")
            extra = set(got) - set(fields)
            if extra:
                failures.append(f"{secret_id} {params}: fields boto3 does not have: {sorted(extra)}")
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"{compared} fields compared, {len(failures)} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
