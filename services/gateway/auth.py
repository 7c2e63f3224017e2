"""Who is calling: AWS Signature V4 verified against the configured access keys, each mapped to an account.

In auth mode `none` every caller acts for the default account, and the region still comes from the SigV4
credential scope when the client signed (boto3 always does), so resources keep their region as in AWS.
In mode `sigv4` the signature is recomputed with botocore's own canonicalisation and compared in constant time.
Plain-HTTP clients that cannot sign may send `Authorization: Bearer ACCESS_KEY_ID:SECRET` instead.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from services.gateway.config import AccessKey, Settings
from services.gateway.context import Principal
from services.gateway.errors import ServiceError

MAX_CLOCK_SKEW = dt.timedelta(minutes=15)


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


class Authenticator:
    def __init__(self, settings: Settings):
        self.mode = settings.auth_mode
        self.default_account = settings.default_account_id
        self.default_region = settings.region
        self.keys: dict[str, AccessKey] = {key.access_key_id: key for key in settings.auth_keys}

    def scope_of(self, headers: dict[str, str]) -> SigV4Header | None:
        value = headers.get("authorization")
        return parse_authorization(value) if value else None

    def authenticate(
        self, method: str, url: str, headers: dict[str, str], body: bytes, now: dt.datetime | None = None
    ) -> Principal:
        """`headers` has lower-case names; `url` is scheme://host + the raw (still encoded) path and query."""
        authorization = headers.get("authorization", "")
        scope = parse_authorization(authorization) if authorization else None
        if self.mode == "none":
            return Principal(self.default_account, scope.region if scope else self.default_region)

        if authorization.startswith("Bearer "):
            return self._bearer(authorization[len("Bearer ") :])
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

        request = AWSRequest(method=method, url=url, headers=headers, data=body)
        request.context["timestamp"] = amz_date
        verifier = _Verifier(Credentials(key.access_key_id, key.secret_access_key.get_secret_value()), scope)
        expected = verifier.signature(verifier.string_to_sign(request, verifier.canonical_request(request)), request)
        if not hmac.compare_digest(expected, scope.signature):
            raise ServiceError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.",
                403,
            )
        return Principal(key.account_id, scope.region, key.access_key_id)

    def _bearer(self, token: str) -> Principal:
        access_key_id, _, secret = token.partition(":")
        key = self.keys.get(access_key_id)
        if key is None or not hmac.compare_digest(secret.encode(), key.secret_access_key.get_secret_value().encode()):
            raise ServiceError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        return Principal(key.account_id, self.default_region, key.access_key_id)
