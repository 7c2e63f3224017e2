"""Who is calling: AWS Signature V4 verified against the configured access keys, each mapped to an account.

In auth mode `none` every caller acts for the default account, and the region still comes from the SigV4
credential scope when the client signed (boto3 always does), so resources keep their region as in AWS.
In mode `sigv4` the signature is recomputed with botocore's own canonicalisation and compared in constant time.
Plain-HTTP clients that cannot sign may send `Authorization: Bearer ACCESS_KEY_ID:SECRET` instead, over TLS (or
where explicitly allowed without it).

The payload hash in the canonical request is the body's own SHA-256: a declared `X-Amz-Content-SHA256` must equal it,
so that a signature cannot be replayed with another body. `UNSIGNED-PAYLOAD` is accepted, as AWS does, only for the
operations whose model marks the payload unsigned (lexv2-runtime's RecognizeUtterance); `authenticate` reports its
use and the caller checks the operation once routed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from services.gateway.config import AccessKey, Settings
from services.gateway.context import Principal
from services.gateway.errors import ServiceError

MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                      "Check your AWS Secret Access Key and signing method.")


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    unsigned_payload: bool = False  # signed over UNSIGNED-PAYLOAD: valid only for operations that allow it


@dataclass(frozen=True)
class SigV4Header:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> SigV4Header | None:
    """Parse `AWS4-HMAC-SHA256 Credential=AK/20261121/us-east-1/comprehend/aws4_request, SignedHeaders=.., Signature=..`."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        return None
    fields = {}
    for part in rest.split(","):
        key, _, item = part.strip().partition("=")
        fields[key] = item
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or "SignedHeaders" not in fields or "Signature" not in fields:
        return None
    return SigV4Header(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=fields["SignedHeaders"].split(";"),
        signature=fields["Signature"],
    )


class _Verifier(SigV4Auth):
    """botocore's signer, restricted to the headers the client says it signed."""

    def __init__(self, credentials: Credentials, header: SigV4Header):
        super().__init__(credentials, header.service, header.region)
        self._signed = header.signed_headers

    def headers_to_sign(self, request: AWSRequest):  # type: ignore[override]
        selected = super().headers_to_sign(request)
        for name in list(selected.keys()):
            if name not in self._signed:
                del selected[name]
        return selected

    def expected(self, request: AWSRequest, payload_hash: str) -> str:
        """The signature of `request` with `payload_hash` as its canonical payload. botocore's canonical request takes
        the hash from X-Amz-Content-SHA256 when present, so the header is set to the hash checked here (it enters the
        canonical headers only when the client signed it, and then it held this very value)."""
        del request.headers["X-Amz-Content-SHA256"]
        request.headers["X-Amz-Content-SHA256"] = payload_hash
        return self.signature(self.string_to_sign(request, self.canonical_request(request)), request)


class Authenticator:
    def __init__(self, settings: Settings):
        self.mode = settings.auth_mode
        self.default_account = settings.default_account_id
        self.default_region = settings.region
        self.keys: dict[str, AccessKey] = {key.access_key_id: key for key in settings.auth_keys}
        self.bearer_without_tls = settings.auth_allow_bearer_without_tls

    def scope_of(self, headers: dict[str, str]) -> SigV4Header | None:
        value = headers.get("authorization")
        return parse_authorization(value) if value else None

    def authenticate(
        self, method: str, url: str, headers: dict[str, str], body: bytes, now: dt.datetime | None = None,
        secure: bool = False,
    ) -> Authenticated:
        """`headers` has lower-case names; `url` is scheme://host + the raw (still encoded) path and query; `secure`:
        the request came over TLS (to this server or to the proxy in front of it)."""
        authorization = headers.get("authorization", "")
        scope = parse_authorization(authorization) if authorization else None
        if self.mode == "none":
            return Authenticated(Principal(self.default_account, scope.region if scope else self.default_region))

        if authorization.startswith("Bearer "):
            if not (secure or self.bearer_without_tls):
                # The secret itself travels in a Bearer header: never in clear text unless the operator says so.
                raise ServiceError("IncompleteSignatureException", "Bearer credentials are accepted only over TLS "
                                   "(AIGATE_TLS_CERTFILE) or with AIGATE_AUTH_ALLOW_BEARER_WITHOUT_TLS=true.", 403)
            return Authenticated(self._bearer(authorization[len("Bearer ") :]))
        if not authorization:
            raise ServiceError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        if scope is None:
            raise ServiceError(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
                403,
            )
        key = self.keys.get(scope.access_key_id)
        if key is None:
            raise ServiceError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise ServiceError("IncompleteSignatureException", "X-Amz-Date header is missing or malformed.", 403)
        now = now or dt.datetime.now(dt.timezone.utc)
        if abs(now - signed_at) > MAX_CLOCK_SKEW:
            raise ServiceError(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - MAX_CLOCK_SKEW).strftime('%Y%m%dT%H%M%SZ')}",
                403,
            )

        if "host" not in scope.signed_headers:
            raise ServiceError("IncompleteSignatureException",
                               "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", 403)
        body_hash = hashlib.sha256(body).hexdigest()
        declared = headers.get("x-amz-content-sha256")
        if declared is not None and declared not in (body_hash, UNSIGNED_PAYLOAD):
            raise ServiceError("InvalidSignatureException",
                               "The provided 'x-amz-content-sha256' header does not match what was computed.", 403)
        verifier = _Verifier(Credentials(key.access_key_id, key.secret_access_key.get_secret_value()), scope)
        # The body's hash, or UNSIGNED-PAYLOAD where the client declared it or (over TLS, for an operation with an
        # unsigned payload) signed it without declaring.
        candidates = [UNSIGNED_PAYLOAD] if declared == UNSIGNED_PAYLOAD else [body_hash, UNSIGNED_PAYLOAD]
        for payload_hash in candidates:
            request = AWSRequest(method=method, url=url, headers=headers, data=body)
            request.context["timestamp"] = amz_date
            if hmac.compare_digest(verifier.expected(request, payload_hash), scope.signature):
                principal = Principal(key.account_id, scope.region, key.access_key_id)
                return Authenticated(principal, unsigned_payload=payload_hash == UNSIGNED_PAYLOAD)
        raise ServiceError("InvalidSignatureException", SIGNATURE_MISMATCH, 403)

    def _bearer(self, token: str) -> Principal:
        access_key_id, _, secret = token.partition(":")
        key = self.keys.get(access_key_id)
        if key is None or not hmac.compare_digest(secret.encode(), key.secret_access_key.get_secret_value().encode()):
            raise ServiceError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        return Principal(key.account_id, self.default_region, key.access_key_id)
