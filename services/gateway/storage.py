"""Blob store: where services read their inputs and write their outputs, addressed by URI.

- `s3://bucket/key`: an S3-compatible endpoint when `s3_endpoint_url` is set, else the local folder
  `data_dir/blobs/<account_id>/<bucket>/<key>`, so that tenants never see each other's objects locally.
  (With a real endpoint, isolation is that endpoint's business: the gateway uses one credential for it.)
- `file:///abs/path`: only under `settings.media_roots`.
- `http(s)://`: read-only, only when `allow_http_media` is set.

Errors are BlobError subclasses, never ServiceError: each service maps them to its own AWS error codes.
Messages name the URI (with any userinfo or query string removed) and never carry credentials.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from services.gateway.config import Settings

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_TMP_PREFIX = ".aigate-tmp-"
_ACCOUNT_RE = re.compile(r"^\d{12}$")
# S3 bucket naming rules, loosely: 3-63 chars of lowercase letters, digits, dots and hyphens, alphanumeric ends.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MAX_KEY_BYTES = 1024
_HTTP_TIMEOUT = 30.0


class BlobError(Exception):
    def __init__(self, message: str, uri: str = ""):
        super().__init__(message)
        self.message = message
        self.uri = _display(uri)  # safe to echo back: no userinfo or query string


class InvalidBlobUri(BlobError):
    pass


class BlobAccessDenied(BlobError):
    pass


class BlobNotFound(BlobError):
    pass


class BlobTooLarge(BlobError):
    pass


def _display(uri: str) -> str:
    """The URI as it may appear in a message: no userinfo, query or fragment (pre-signed URLs carry credentials
    there), cut to a sane length."""
    if uri.lower().startswith(("http://", "https://")):
        try:
            parts = urllib.parse.urlsplit(uri)
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            uri = urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
        except ValueError:
            uri = uri.split("?", 1)[0].split("#", 1)[0]
    uri = uri.replace("\x00", "\\x00")
    return uri if len(uri) <= 300 else uri[:300] + "..."


def _split_scheme(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri:
        raise InvalidBlobUri("Blob URI is empty.", "")
    if "\x00" in uri:
        raise InvalidBlobUri(f"Blob URI {_display(uri)} contains a NUL byte.", uri)
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise InvalidBlobUri(f"Blob URI {_display(uri)} has no scheme (expected s3://, file:// or https://).", uri)
    return scheme.lower(), rest


def _check_account(account_id: str) -> None:
    # The account id becomes a folder name: anything but 12 digits is a caller bug, not a user input error.
    if not isinstance(account_id, str) or not _ACCOUNT_RE.match(account_id):
        raise ValueError("account_id must be 12 digits")


def _limit_of(max_bytes: int | None, settings: Settings) -> int:
    return settings.max_media_bytes if max_bytes is None else max_bytes


def _read_limited(stream, limit: int, uri: str) -> bytes:
    """Read at most `limit` bytes; one byte more means the blob is too large (sizes announced up front can lie)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise BlobTooLarge(f"Blob {_display(uri)} is larger than the limit of {limit} bytes.", uri)
        chunks.append(chunk)


def _too_large(size: int | None, limit: int, uri: str) -> None:
    if size is not None and size > limit:
        raise BlobTooLarge(f"Blob {_display(uri)} is {size} bytes, over the limit of {limit} bytes.", uri)


def _is_within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _atomic_write(path: Path, data: bytes) -> None:
    # Temp file in the same folder + os.replace: readers see the old object or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _read_file(path: Path, limit: int, uri: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            _too_large(os.fstat(handle.fileno()).st_size, limit, uri)
            return _read_limited(handle, limit, uri)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise BlobNotFound(f"Blob {_display(uri)} does not exist.", uri) from None
    except PermissionError:
        raise BlobAccessDenied(f"Access to blob {_display(uri)} is denied.", uri) from None


def _write_file(path: Path, data: bytes, uri: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        # Unlike S3, a folder store cannot hold both `a` and `a/b`.
        raise BlobError(f"Cannot write blob {_display(uri)}: a file and a folder would share a name.", uri) from None
    except PermissionError:
        raise BlobAccessDenied(f"Access to blob {_display(uri)} is denied.", uri) from None


def _walk_files(top: Path):
    """Regular files under `top`, not following symlinked folders (they could lead anywhere)."""
    for dirpath, _dirnames, filenames in os.walk(top, followlinks=False):
        for name in filenames:
            if not name.startswith(_TMP_PREFIX):
                yield Path(dirpath, name)


class BlobStore:
    def __init__(self, settings: Settings, list_page_size: int = 1000):
        self.settings = settings
        self.list_page_size = list_page_size
        self._s3 = None
        self._s3_lock = threading.Lock()

    # ---------------------------------------------------------------- public API

    def read(self, uri: str, account_id: str, max_bytes: int | None = None) -> bytes:
        scheme, rest = _split_scheme(uri)
        limit = _limit_of(max_bytes, self.settings)
        if scheme == "s3":
            bucket, key = self._parse_s3(uri, rest, need_key=True)
            if self.settings.s3_endpoint_url:
                return self._s3_read(uri, bucket, key, limit)
            return _read_file(self._local_path(uri, account_id, bucket, key), limit, uri)
        if scheme == "file":
            return _read_file(self._file_path(uri, rest), limit, uri)
        if scheme in ("http", "https"):
            return self._http_read(uri, limit)
        raise self._bad_scheme(uri, scheme)

    def write(self, uri: str, data: bytes, account_id: str, content_type: str | None = None) -> None:
        # content_type is kept only by a real S3 endpoint; folders have no place for it.
        scheme, rest = _split_scheme(uri)
        if scheme == "s3":
            bucket, key = self._parse_s3(uri, rest, need_key=True)
            if self.settings.s3_endpoint_url:
                self._s3_write(uri, bucket, key, data, content_type)
                return
            _write_file(self._local_path(uri, account_id, bucket, key), data, uri)
            return
        if scheme == "file":
            _write_file(self._file_path(uri, rest), data, uri)
            return
        if scheme in ("http", "https"):
            raise BlobAccessDenied(f"Cannot write to {_display(uri)}: http(s) URIs are read-only.", uri)
        raise self._bad_scheme(uri, scheme)

    def exists(self, uri: str, account_id: str) -> bool:
        scheme, rest = _split_scheme(uri)
        if scheme == "s3":
            bucket, key = self._parse_s3(uri, rest, need_key=True)
            if self.settings.s3_endpoint_url:
                return self._s3_exists(uri, bucket, key)
            return self._local_path(uri, account_id, bucket, key).is_file()
        if scheme == "file":
            return self._file_path(uri, rest).is_file()
        if scheme in ("http", "https"):
            return self._http_exists(uri)
        raise self._bad_scheme(uri, scheme)

    def list(self, prefix_uri: str, account_id: str) -> list[str]:
        """Full URIs of the objects whose key starts with the prefix (S3 semantics: `out/a` matches `out/ab`),
        sorted. A missing local bucket lists as empty (local buckets exist implicitly)."""
        scheme, rest = _split_scheme(prefix_uri)
        if scheme == "s3":
            bucket, prefix = self._parse_s3(prefix_uri, rest, need_key=False)
            if self.settings.s3_endpoint_url:
                keys = self._s3_list(prefix_uri, bucket, prefix)
            else:
                keys = self._local_list(prefix_uri, account_id, bucket, prefix)
            return sorted(f"s3://{bucket}/{key}" for key in keys)
        if scheme == "file":
            return self._file_list(prefix_uri, rest)
        if scheme in ("http", "https"):
            self._check_http_enabled(prefix_uri)
            raise InvalidBlobUri(f"Cannot list {_display(prefix_uri)}: http(s) URIs cannot be listed.", prefix_uri)
        raise self._bad_scheme(prefix_uri, scheme)

    @staticmethod
    def join(prefix_uri: str, *parts: str) -> str:
        """`join("s3://b/out/", "job1", "/a.json")` -> `s3://b/out/job1/a.json`: exactly one slash between parts."""
        scheme, sep, rest = prefix_uri.partition("://")
        if not sep:
            raise InvalidBlobUri(f"Blob URI {_display(prefix_uri)} has no scheme.", prefix_uri)
        pieces = [rest.rstrip("/")]
        for part in parts:
            part = re.sub(r"/{2,}", "/", str(part)).strip("/")
            if part:
                pieces.append(part)
        return f"{scheme}://" + "/".join(pieces)

    @property
    def s3_client(self):
        """The boto3 client of the configured endpoint, made once (boto3 clients are thread-safe)."""
        if self._s3 is None:
            with self._s3_lock:
                if self._s3 is None:
                    self._s3 = self._make_s3_client()
        return self._s3

    # ---------------------------------------------------------------- URI parsing and checks

    def _bad_scheme(self, uri: str, scheme: str) -> InvalidBlobUri:
        return InvalidBlobUri(
            f"Blob URI {_display(uri)} has unsupported scheme {scheme!r} (expected s3://, file:// or https://).", uri
        )

    def _parse_s3(self, uri: str, rest: str, need_key: bool) -> tuple[str, str]:
        bucket, _, key = rest.partition("/")
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise InvalidBlobUri(f"Blob URI {_display(uri)} has an invalid bucket name {bucket[:80]!r}.", uri)
        if need_key and not key:
            raise InvalidBlobUri(f"Blob URI {_display(uri)} names no object key.", uri)
        if len(key.encode("utf-8", "surrogatepass")) > _MAX_KEY_BYTES:
            raise InvalidBlobUri(f"Blob URI {_display(uri)} has a key longer than {_MAX_KEY_BYTES} bytes.", uri)
        return bucket, key

    def _local_path(self, uri: str, account_id: str, bucket: str, key: str) -> Path:
        # Keys become paths: every segment must be a plain name, so nothing can climb out of the bucket folder
        # (and `a//b`, `a/./b` would silently alias `a/b`).
        _check_account(account_id)
        segments = key.split("/")
        if key.startswith("/") or any(seg in ("", ".", "..") for seg in segments):
            raise InvalidBlobUri(
                f"Blob URI {_display(uri)} has a key the local store cannot hold "
                f"(absolute, empty, '.' or '..' path segments).", uri
            )
        base = self._bucket_dir(account_id, bucket)
        path = base.joinpath(*segments)
        # Defense in depth: a symlink planted inside the store must not lead out of the bucket.
        if not _is_within(path.resolve(), base.resolve()):
            raise BlobAccessDenied(f"Blob URI {_display(uri)} resolves outside its bucket.", uri)
        return path

    def _bucket_dir(self, account_id: str, bucket: str) -> Path:
        return self.settings.data_dir / "blobs" / account_id / bucket

    def _file_path(self, uri: str, rest: str) -> Path:
        """The real path of a `file://` URI, which must lie under one of the media roots."""
        path_text = self._file_uri_path(uri, rest)
        resolved = Path(path_text).resolve()  # follows symlinks, so a link out of a root is caught below
        if not any(_is_within(resolved, root) for root in self.settings.media_roots):
            raise BlobAccessDenied(f"Blob URI {_display(uri)} is outside the allowed media folders.", uri)
        return resolved

    def _file_uri_path(self, uri: str, rest: str) -> str:
        host, slash, path = rest.partition("/")
        if not slash or host not in ("", "localhost"):
            raise InvalidBlobUri(f"Blob URI {_display(uri)} must be file:///absolute/path.", uri)
        # Percent-decode first so that `%2e%2e` is judged as the `..` it means.
        decoded = "/" + urllib.parse.unquote(path, errors="strict")
        if "\x00" in decoded:
            raise InvalidBlobUri(f"Blob URI {_display(uri)} contains a NUL byte.", uri)
        if ".." in decoded.split("/"):
            raise BlobAccessDenied(f"Blob URI {_display(uri)} contains '..' path segments.", uri)
        return decoded

    def _check_http_enabled(self, uri: str) -> None:
        if not self.settings.allow_http_media:
            raise BlobAccessDenied(
                f"Blob URI {_display(uri)} is refused: http(s) media is disabled (AIGATE_ALLOW_HTTP_MEDIA).", uri
            )

    # ---------------------------------------------------------------- local folder store

    def _local_list(self, uri: str, account_id: str, bucket: str, prefix: str) -> list[str]:
        _check_account(account_id)
        # Walk the folder the prefix's complete segments name, then filter by the full prefix string.
        folder, _, _fragment = prefix.rpartition("/")
        segments = folder.split("/") if folder else []
        if prefix.startswith("/") or any(seg in ("", ".", "..") for seg in segments):
            raise InvalidBlobUri(f"Blob URI {_display(uri)} has a prefix the local store cannot hold.", uri)
        base = self._bucket_dir(account_id, bucket)
        top = base.joinpath(*segments)
        if not top.is_dir():
            return []
        real_base = base.resolve()
        if not _is_within(top.resolve(), real_base):
            raise BlobAccessDenied(f"Blob URI {_display(uri)} resolves outside its bucket.", uri)
        keys = []
        for path in _walk_files(top):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix) and _is_within(path.resolve(), real_base):
                keys.append(key)
        return keys

    # ---------------------------------------------------------------- file://

    def _file_list(self, uri: str, rest: str) -> list[str]:
        """Files under the media roots whose real path starts with the prefix path."""
        path_text = self._file_uri_path(uri, rest)
        folder, _, fragment = path_text.rpartition("/")
        # Resolve the folder part (symlinks, e.g. /tmp) so it compares with the resolved roots; keep the fragment.
        real_folder = Path(folder or "/").resolve()
        prefix = str(real_folder).rstrip("/") + "/" + fragment
        roots = self.settings.media_roots
        found: set[str] = set()
        related = False
        for root in roots:
            if _is_within(real_folder, root):
                top = real_folder  # the prefix lies inside this root
            elif (str(root).rstrip("/") + "/").startswith(prefix):
                top = root  # the whole root lies under the prefix
            else:
                continue
            related = True
            if not top.is_dir():
                continue
            for path in _walk_files(top):
                text = str(path)
                # A symlinked file may point out of the roots: list only what read() would serve.
                if text.startswith(prefix) and any(_is_within(path.resolve(), r) for r in roots):
                    found.add(text)
        if not related:
            raise BlobAccessDenied(f"Blob URI {_display(uri)} is outside the allowed media folders.", uri)
        return sorted("file://" + urllib.parse.quote(text) for text in found)

    # ---------------------------------------------------------------- http(s)://

    def _http_open(self, uri: str, method: str = "GET"):
        self._check_http_enabled(uri)
        request = urllib.request.Request(uri, method=method, headers={"User-Agent": "aigate"})
        try:
            return _HTTP_OPENER.open(request, timeout=_HTTP_TIMEOUT)
        except urllib.error.HTTPError as err:
            err.close()
            if err.code in (404, 410):
                raise BlobNotFound(f"Blob {_display(uri)} does not exist (HTTP {err.code}).", uri) from None
            if err.code in (401, 403):
                raise BlobAccessDenied(f"Access to blob {_display(uri)} is denied (HTTP {err.code}).", uri) from None
            raise BlobError(f"Fetching blob {_display(uri)} failed with HTTP {err.code}.", uri) from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            raise BlobError(f"Fetching blob {_display(uri)} failed: {type(reason).__name__}.", uri) from None

    def _http_read(self, uri: str, limit: int) -> bytes:
        with self._http_open(uri) as response:
            length = response.headers.get("Content-Length")
            _too_large(int(length) if length and length.isdigit() else None, limit, uri)
            try:
                return _read_limited(response, limit, uri)
            except (OSError, http.client.HTTPException):
                raise BlobError(f"Fetching blob {_display(uri)} failed while reading.", uri) from None

    def _http_exists(self, uri: str) -> bool:
        try:
            with self._http_open(uri, method="HEAD"):
                return True
        except BlobNotFound:
            return False

    # ---------------------------------------------------------------- S3 endpoint

    def _make_s3_client(self):
        import boto3
        from botocore.config import Config

        settings = self.settings
        log.debug("blob store uses S3 endpoint %s", settings.s3_endpoint_url)
        # Empty key settings: let boto3's own chain (environment, instance role) find credentials.
        secret = settings.s3_secret_access_key.get_secret_value()
        return boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=secret or None,
            region_name=settings.s3_region,
            config=Config(
                s3={"addressing_style": "path"},  # S3-compatible stores (MinIO, Ceph, moto) rarely do virtual hosts
                connect_timeout=10,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def _s3_error(self, err: Exception, uri: str, action: str) -> BlobError:
        from botocore.exceptions import ClientError

        if isinstance(err, ClientError):
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound") or status == 404:
                what = "bucket" if code == "NoSuchBucket" else "blob"
                return BlobNotFound(f"The {what} of {_display(uri)} does not exist.", uri)
            if code in ("AccessDenied", "403", "Forbidden") or status == 403:
                return BlobAccessDenied(f"Access to blob {_display(uri)} is denied by the S3 endpoint.", uri)
            return BlobError(f"Cannot {action} blob {_display(uri)}: S3 error {code or status}.", uri)
        # Connection failures and the like: name the class only, the text may carry endpoint details.
        return BlobError(f"Cannot {action} blob {_display(uri)}: {type(err).__name__}.", uri)

    def _s3_read(self, uri: str, bucket: str, key: str, limit: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.s3_client.get_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise self._s3_error(err, uri, "read") from None
        body = response["Body"]
        try:
            _too_large(response.get("ContentLength"), limit, uri)
            return _read_limited(body, limit, uri)
        except (BotoCoreError, OSError) as err:
            raise self._s3_error(err, uri, "read") from None
        finally:
            body.close()

    def _s3_write(self, uri: str, bucket: str, key: str, data: bytes, content_type: str | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"ContentType": content_type} if content_type else {}
        try:
            self.s3_client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
        except (ClientError, BotoCoreError) as err:
            raise self._s3_error(err, uri, "write") from None

    def _s3_exists(self, uri: str, bucket: str, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3_client.head_object(Bucket=bucket, Key=key)
            return True
        except (ClientError, BotoCoreError) as err:
            error = self._s3_error(err, uri, "check")
            if isinstance(error, BlobNotFound):
                return False
            raise error from None

    def _s3_list(self, uri: str, bucket: str, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        paginator = self.s3_client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(
                Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": self.list_page_size}
            ):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as err:
            raise self._s3_error(err, uri, "list") from None
        return keys


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would also follow a redirect to ftp://; media fetches stay on http(s).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, 403, "redirect to a non-http URL refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_HTTP_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)
