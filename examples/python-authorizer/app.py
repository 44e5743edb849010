"""An API Gateway (HTTP API, payload 2.0) Lambda authorizer in Python, standard library only: the design
of the AWS blog post origin-verify replaces (compare the x-origin-verify header with the secret's
AWSCURRENT and AWSPENDING values), reading the secret from a layer on 127.0.0.1:2773 instead of calling
Secrets Manager twice per request.

The layer is AWS's Parameters and Secrets Lambda Extension or origin-verify's (`origin-verify-layer`):
the same requests, the same answers. With origin-verify's, a rotation's new value is served as soon as
Secrets Manager has it (not up to a TTL later), and the absent AWSPENDING outside a rotation costs no call.

Environment: ORIGIN_VERIFY_SECRET_ID (name or ARN, required), ORIGIN_VERIFY_HEADER_NAME (default
x-origin-verify), ORIGIN_VERIFY_SECRET_KEY (default HEADERVALUE), PARAMETERS_SECRETS_EXTENSION_HTTP_PORT
(default 2773). Lambda sets AWS_SESSION_TOKEN, the token the layer asks for.
"""

import hmac
import json
import os
import urllib.error
import urllib.parse
import urllib.request

SECRET_ID = os.environ["ORIGIN_VERIFY_SECRET_ID"]
HEADER = os.environ.get("ORIGIN_VERIFY_HEADER_NAME", "x-origin-verify").lower()
KEY = os.environ.get("ORIGIN_VERIFY_SECRET_KEY", "HEADERVALUE")
PORT = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
# No proxy, whatever the environment says: the secret travels over loopback only.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def secret_value(stage, refresh_now=False):
    """The header value held by the version with this label; None when the secret has no such label.
    refresh_now asks the layer to check Secrets Manager first (origin-verify's layer does so at most once
    a second per secret, however often it is asked)."""
    params = {"secretId": SECRET_ID, "versionStage": stage}
    if refresh_now:
        params["refreshNow"] = "true"
    query = urllib.parse.urlencode(params)
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/secretsmanager/get?{query}",
        headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]},
    )
    try:
        with OPENER.open(request, timeout=5) as response:
            secret = json.loads(response.read())["SecretString"]
    except urllib.error.HTTPError as err:
        # No AWSPENDING outside a rotation: Secrets Manager's ResourceNotFoundException, passed on.
        if stage != "AWSCURRENT" and json.loads(err.read() or b"{}").get("__type") == "ResourceNotFoundException":
            return None
        raise
    try:
        parsed = json.loads(secret)
    except ValueError:
        return secret
    return parsed[KEY] if isinstance(parsed, dict) else secret


def matches(presented, refresh_now):
    allowed = False
    for stage in ("AWSCURRENT", "AWSPENDING"):
        # One refresh covers every label of the secret: ask for it with the first label only.
        value = secret_value(stage, refresh_now and stage == "AWSCURRENT")
        # Constant time, and every held value compared whatever the first one gave.
        allowed |= value is not None and hmac.compare_digest(presented.encode(), value.encode())
    return allowed


def handler(event, context):
    headers = event.get("headers") or {}
    presented = next((v for k, v in headers.items() if k.lower() == HEADER), "")
    # A value that matches nothing may be newer than what the layer holds (a rotation that has just
    # begun): ask once more with refreshNow before denying.
    allowed = bool(presented) and (matches(presented, False) or matches(presented, True))
    return {"isAuthorized": allowed}
