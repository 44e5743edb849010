"""An API Gateway (HTTP API, payload 2.0) Lambda authorizer in Python, standard library only: the design
of the AWS blog post origin-verify replaces (compare the x-origin-verify header with the secret's
AWSCURRENT and AWSPENDING values), reading the secret from a layer on 127.0.0.1:2773 instead of calling
Secrets Manager twice per request, and accepting AWSPREVIOUS for a short grace window after a rotation
(the blog's design does not: edge locations still sending the old value for a moment are refused).

The layer is AWS's Parameters and Secrets Lambda Extension or origin-verify's (`origin-verify-layer`):
the same requests, the same answers. With origin-verify's, the absent AWSPENDING outside a rotation costs
no call, and a miss that asks again with refreshNow gets a fresh answer (at most one refresh a second).

Environment: ORIGIN_VERIFY_SECRET_ID (name or ARN, required), ORIGIN_VERIFY_HEADER_NAME (default
x-origin-verify), ORIGIN_VERIFY_SECRET_KEY (default HEADERVALUE), ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS
(default 300; 0 turns AWSPREVIOUS off), PARAMETERS_SECRETS_EXTENSION_HTTP_PORT (default 2773). Lambda sets
AWS_SESSION_TOKEN, the token the layer asks for.
"""

import hmac
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

SECRET_ID = os.environ["ORIGIN_VERIFY_SECRET_ID"]
HEADER = os.environ.get("ORIGIN_VERIFY_HEADER_NAME", "x-origin-verify").lower()
KEY = os.environ.get("ORIGIN_VERIFY_SECRET_KEY", "HEADERVALUE")
GRACE = int(os.environ.get("ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS", "300"))
PORT = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
# No proxy, whatever the environment says: the secret travels over loopback only.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# When AWSPREVIOUS stopped being current, as far as this sandbox can tell: the moment it saw AWSCURRENT
# move to another version; in a sandbox started after the rotation, the new version's creation, which is
# earlier than the move (so the window is never longer than GRACE).
_seen = {"current": None, "previous_since": 0.0}


def secret(stage, refresh_now=False):
    """(header value, version id, creation time) of the version with this label; None when the secret
    has no such label. refresh_now asks the layer to check Secrets Manager first."""
    params = {"secretId": SECRET_ID, "versionStage": stage}
    if refresh_now:
        params["refreshNow"] = "true"
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/secretsmanager/get?{urllib.parse.urlencode(params)}",
        headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]},
    )
    try:
        with OPENER.open(request, timeout=5) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as err:
        # No AWSPENDING outside a rotation: Secrets Manager's ResourceNotFoundException, passed on.
        if stage != "AWSCURRENT" and json.loads(err.read() or b"{}").get("__type") == "ResourceNotFoundException":
            return None
        raise
    value = answer["SecretString"]
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    if isinstance(parsed, dict):
        value = parsed[KEY]
    return value, answer["VersionId"], float(answer.get("CreatedDate") or 0)


def matches(presented, refresh_now):
    # One refresh covers every label of the secret: ask for it with the first label only.
    current = secret("AWSCURRENT", refresh_now)
    if _seen["current"] is None:
        _seen["previous_since"] = current[2]
    elif _seen["current"] != current[1]:
        _seen["previous_since"] = time.time()
    _seen["current"] = current[1]
    held = [current, secret("AWSPENDING")]
    if GRACE > 0 and time.time() - _seen["previous_since"] < GRACE:
        held.append(secret("AWSPREVIOUS"))
    allowed = False
    for entry in held:
        # Constant time, and every held value compared whatever the others gave.
        allowed |= entry is not None and hmac.compare_digest(presented.encode(), entry[0].encode())
    return allowed


def handler(event, context):
    headers = event.get("headers") or {}
    presented = next((v for k, v in headers.items() if k.lower() == HEADER), "")
    # A value that matches nothing may be newer than what the layer holds (a rotation that has just
    # begun): ask once more with refreshNow before denying.
    allowed = bool(presented) and (matches(presented, False) or matches(presented, True))
    return {"isAuthorized": allowed}
