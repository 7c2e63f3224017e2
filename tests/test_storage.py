"""Blob store against real folders (tmp_path), a real local HTTP server and a real S3 wire endpoint (moto server)."""

from __future__ import annotations

import http.server
import os
import threading

import pytest

from services.gateway.config import Settings
from services.gateway.storage import (
    BlobAccessDenied,
    BlobError,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    InvalidBlobUri,
)
from tests.helpers import make_bucket, unique
from tests.s3server import MotoS3Server, free_port

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"


@pytest.fixture(scope="module")
def moto_server():
    with MotoS3Server() as server:
        yield server


@pytest.fixture
def s3_store(moto_server, tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        s3_endpoint_url=moto_server.endpoint_url,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
        s3_region="us-east-1",
    )
    return BlobStore(settings, list_page_size=2)


@pytest.fixture
def bucket(moto_server):
    return make_bucket(moto_server.client(), unique("test", 12))


@pytest.fixture
def local_store(tmp_path):
    return BlobStore(Settings(data_dir=tmp_path / "data", s3_endpoint_url=""))


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    (root / "clip.wav").write_bytes(b"RIFF....")
    (root / "sub").mkdir()
    (root / "sub" / "a b.txt").write_bytes(b"spaced")
    (tmp_path / "secret.txt").write_bytes(b"top secret")
    store = BlobStore(Settings(data_dir=tmp_path / "data", file_roots=[root], s3_endpoint_url=""))
    return store, root


# ---------------------------------------------------------------- local store


def test_local_round_trip(local_store, tmp_path):
    uri = "s3://my-bucket/in/doc.txt"
    assert not local_store.exists(uri, ACCOUNT_A)
    local_store.write(uri, b"hello", ACCOUNT_A, content_type="text/plain")
    assert local_store.read(uri, ACCOUNT_A) == b"hello"
    assert local_store.exists(uri, ACCOUNT_A)
    path = tmp_path / "data" / "blobs" / ACCOUNT_A / "my-bucket" / "in" / "doc.txt"
    assert path.read_bytes() == b"hello"

    local_store.write(uri, b"replaced", ACCOUNT_A)
    assert local_store.read(uri, ACCOUNT_A) == b"replaced"
    # The atomic write leaves no temp file behind.
    assert sorted(os.listdir(path.parent)) == ["doc.txt"]


def test_local_list_prefix_semantics(local_store):
    for key in ["out/a.json", "out/ab.json", "out/b/c.json", "outer.txt", "other/x"]:
        local_store.write(f"s3://bkt/{key}", key.encode(), ACCOUNT_A)

    assert local_store.list("s3://bkt/out/a", ACCOUNT_A) == ["s3://bkt/out/a.json", "s3://bkt/out/ab.json"]
    assert local_store.list("s3://bkt/out/", ACCOUNT_A) == [
        "s3://bkt/out/a.json", "s3://bkt/out/ab.json", "s3://bkt/out/b/c.json",
    ]
    assert local_store.list("s3://bkt/out", ACCOUNT_A) == [
        "s3://bkt/out/a.json", "s3://bkt/out/ab.json", "s3://bkt/out/b/c.json", "s3://bkt/outer.txt",
    ]
    everything = local_store.list("s3://bkt", ACCOUNT_A)
    assert everything == local_store.list("s3://bkt/", ACCOUNT_A)
    assert len(everything) == 5 and everything == sorted(everything)
    assert local_store.list("s3://bkt/nothing/", ACCOUNT_A) == []
    assert local_store.list("s3://no-such-bucket/", ACCOUNT_A) == []


def test_local_tenant_isolation(local_store):
    uri = "s3://shared-name/private.txt"
    local_store.write(uri, b"A's data", ACCOUNT_A)
    with pytest.raises(BlobNotFound):
        local_store.read(uri, ACCOUNT_B)
    assert not local_store.exists(uri, ACCOUNT_B)
    assert local_store.list("s3://shared-name/", ACCOUNT_B) == []

    local_store.write(uri, b"B's data", ACCOUNT_B)
    assert local_store.read(uri, ACCOUNT_A) == b"A's data"
    assert local_store.read(uri, ACCOUNT_B) == b"B's data"


def test_local_account_id_must_be_12_digits(local_store):
    for bad in ["", "../111111111", "11111111111a", "1111111111111"]:
        with pytest.raises(ValueError):
            local_store.read("s3://bucket/key", bad)


@pytest.mark.parametrize("uri", [
    "s3://bucket/../escape",
    "s3://bucket/a/../../escape",
    "s3://bucket//absolute",
    "s3://bucket/a//b",
    "s3://bucket/./a",
    "s3://bucket/dir/",
])
def test_local_rejects_unsafe_keys(local_store, tmp_path, uri):
    with pytest.raises(InvalidBlobUri):
        local_store.write(uri, b"x", ACCOUNT_A)
    with pytest.raises(InvalidBlobUri):
        local_store.read(uri, ACCOUNT_A)
    assert not (tmp_path / "data" / "blobs" / "escape").exists()


def test_local_rejects_unsafe_list_prefix(local_store):
    with pytest.raises(InvalidBlobUri):
        local_store.list("s3://bucket/../", ACCOUNT_A)


def test_local_symlink_out_of_bucket_refused(local_store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "loot.txt").write_bytes(b"loot")
    bucket_dir = tmp_path / "data" / "blobs" / ACCOUNT_A / "bucket"
    bucket_dir.mkdir(parents=True)
    (bucket_dir / "link").symlink_to(outside)
    with pytest.raises(BlobAccessDenied):
        local_store.read("s3://bucket/link/loot.txt", ACCOUNT_A)
    with pytest.raises(BlobAccessDenied):
        local_store.write("s3://bucket/link/new.txt", b"x", ACCOUNT_A)
    assert not (outside / "new.txt").exists()
    assert local_store.list("s3://bucket/", ACCOUNT_A) == []


def test_local_file_folder_clash_is_a_blob_error(local_store):
    local_store.write("s3://bucket/a", b"file", ACCOUNT_A)
    with pytest.raises(BlobError):
        local_store.write("s3://bucket/a/b", b"x", ACCOUNT_A)
    with pytest.raises(BlobNotFound):
        local_store.read("s3://bucket/a/b", ACCOUNT_A)


# ---------------------------------------------------------------- size limits


def test_size_limit_explicit_and_from_settings(tmp_path):
    store = BlobStore(Settings(data_dir=tmp_path, s3_endpoint_url="", max_media_bytes=10))
    store.write("s3://bucket/small", b"0123456789", ACCOUNT_A)
    store.write("s3://bucket/big", b"0123456789X", ACCOUNT_A)
    assert store.read("s3://bucket/small", ACCOUNT_A) == b"0123456789"
    with pytest.raises(BlobTooLarge, match="s3://bucket/big"):
        store.read("s3://bucket/big", ACCOUNT_A)
    with pytest.raises(BlobTooLarge):
        store.read("s3://bucket/small", ACCOUNT_A, max_bytes=9)
    # An explicit max_bytes is the limit for that call.
    assert store.read("s3://bucket/big", ACCOUNT_A, max_bytes=11) == b"0123456789X"


# ---------------------------------------------------------------- file://


def test_file_read_write_list_under_root(media):
    store, root = media
    assert store.read(f"file://{root}/clip.wav", ACCOUNT_A) == b"RIFF...."
    assert store.read(f"file://localhost{root}/clip.wav", ACCOUNT_A) == b"RIFF...."
    assert store.exists(f"file://{root}/clip.wav", ACCOUNT_A)
    assert not store.exists(f"file://{root}/missing.wav", ACCOUNT_A)
    with pytest.raises(BlobNotFound):
        store.read(f"file://{root}/missing.wav", ACCOUNT_A)
    with pytest.raises(BlobNotFound):
        store.read(f"file://{root}/sub", ACCOUNT_A)

    store.write(f"file://{root}/out/new/result.json", b"{}", ACCOUNT_A)
    assert (root / "out" / "new" / "result.json").read_bytes() == b"{}"

    listed = store.list(f"file://{root}/", ACCOUNT_A)
    assert listed == sorted([
        f"file://{root}/clip.wav", f"file://{root}/out/new/result.json", f"file://{root}/sub/a%20b.txt",
    ])
    # Listed URIs are percent-encoded and read back.
    assert store.read(f"file://{root}/sub/a%20b.txt", ACCOUNT_A) == b"spaced"
    assert store.list(f"file://{root}/cl", ACCOUNT_A) == [f"file://{root}/clip.wav"]
    # The root itself as a prefix (no trailing slash) lists what lies under it.
    assert store.list(f"file://{root}", ACCOUNT_A) == listed


@pytest.mark.parametrize("template", [
    "file://{root}/../secret.txt",
    "file://{root}/%2e%2e/secret.txt",
    "file://{root}/%2E%2E/secret.txt",
    "file://{root}/sub/../../secret.txt",
    "file://{parent}/secret.txt",
    "file:///etc/passwd",
])
def test_file_traversal_refused(media, template):
    store, root = media
    uri = template.format(root=root, parent=root.parent)
    with pytest.raises(BlobAccessDenied):
        store.read(uri, ACCOUNT_A)
    with pytest.raises(BlobAccessDenied):
        store.write(uri, b"pwned", ACCOUNT_A)
    assert (root.parent / "secret.txt").read_bytes() == b"top secret"


def test_file_symlink_out_of_root_refused(media):
    store, root = media
    (root / "link.txt").symlink_to(root.parent / "secret.txt")
    (root / "linkdir").symlink_to(root.parent)
    (root / "inside.txt").symlink_to(root / "clip.wav")
    with pytest.raises(BlobAccessDenied):
        store.read(f"file://{root}/link.txt", ACCOUNT_A)
    with pytest.raises(BlobAccessDenied):
        store.read(f"file://{root}/linkdir/secret.txt", ACCOUNT_A)
    with pytest.raises(BlobAccessDenied):
        store.write(f"file://{root}/linkdir/new.txt", b"x", ACCOUNT_A)
    # A link that stays inside the root is fine.
    assert store.read(f"file://{root}/inside.txt", ACCOUNT_A) == b"RIFF...."
    listed = store.list(f"file://{root}/", ACCOUNT_A)
    assert f"file://{root}/link.txt" not in listed
    assert f"file://{root}/inside.txt" in listed
    assert not any("secret" in uri for uri in listed)


def test_file_list_outside_roots_refused(media):
    store, root = media
    with pytest.raises(BlobAccessDenied):
        store.list("file:///etc/", ACCOUNT_A)
    with pytest.raises(BlobAccessDenied):
        store.list(f"file://{root}/../", ACCOUNT_A)


def test_file_uri_forms_refused(media):
    store, root = media
    with pytest.raises(InvalidBlobUri):
        store.read(f"file://otherhost{root}/clip.wav", ACCOUNT_A)
    with pytest.raises(InvalidBlobUri):
        store.read(f"file://{root}/clip.wav%00.txt", ACCOUNT_A)


def test_file_default_root_is_data_dir_media(tmp_path):
    store = BlobStore(Settings(data_dir=tmp_path, s3_endpoint_url=""))
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "x.txt").write_bytes(b"x")
    (tmp_path / "y.txt").write_bytes(b"y")
    assert store.read(f"file://{tmp_path}/media/x.txt", ACCOUNT_A) == b"x"
    with pytest.raises(BlobAccessDenied):
        store.read(f"file://{tmp_path}/y.txt", ACCOUNT_A)


# ---------------------------------------------------------------- http(s)://


class _Handler(http.server.BaseHTTPRequestHandler):
    files = {"/media.bin": b"m" * 100}

    def do_GET(self):
        body = self.files.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.send_response(200 if self.path.split("?")[0] in self.files else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_base():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_refused_when_disabled(tmp_path, http_base):
    store = BlobStore(Settings(data_dir=tmp_path, s3_endpoint_url="", allow_http_media=False))
    for uri in [f"{http_base}/media.bin", "https://example.com/a.wav"]:
        with pytest.raises(BlobAccessDenied):
            store.read(uri, ACCOUNT_A)
        with pytest.raises(BlobAccessDenied):
            store.exists(uri, ACCOUNT_A)
        with pytest.raises(BlobAccessDenied):
            store.write(uri, b"x", ACCOUNT_A)


def test_http_read_when_enabled(tmp_path, http_base):
    store = BlobStore(Settings(data_dir=tmp_path, s3_endpoint_url="", allow_http_media=True))
    assert store.read(f"{http_base}/media.bin", ACCOUNT_A) == b"m" * 100
    assert store.exists(f"{http_base}/media.bin", ACCOUNT_A)
    assert not store.exists(f"{http_base}/missing", ACCOUNT_A)
    with pytest.raises(BlobNotFound):
        store.read(f"{http_base}/missing", ACCOUNT_A)
    with pytest.raises(BlobTooLarge):
        store.read(f"{http_base}/media.bin", ACCOUNT_A, max_bytes=99)
    with pytest.raises(BlobAccessDenied):
        store.write(f"{http_base}/media.bin", b"x", ACCOUNT_A)
    with pytest.raises(InvalidBlobUri):
        store.list(f"{http_base}/", ACCOUNT_A)
    # Query strings (pre-signed URLs) may carry credentials: messages leave them out.
    with pytest.raises(BlobNotFound) as info:
        store.read(f"{http_base}/missing?X-Amz-Credential=AKID&X-Amz-Signature=abc", ACCOUNT_A)
    assert "AKID" not in str(info.value) and "abc" not in str(info.value)
    assert "AKID" not in info.value.uri and info.value.uri == f"{http_base}/missing"


# ---------------------------------------------------------------- invalid URIs and join


@pytest.mark.parametrize("uri", [
    "",
    "no-scheme",
    "/abs/path",
    "ftp://host/file",
    "gs://bucket/key",
    "s3://Upper-Case/key",
    "s3://ab/key",
    "s3://" + "b" * 64 + "/key",
    "s3://-bucket/key",
    "s3://bad_bucket/key",
    "s3://bu..cket/key",
    "s3:///key",
    "s3://bucket",
    "s3://bucket/",
    "s3://bucket/key\x00",
    "s3://bucket/" + "k" * 1025,
])
def test_invalid_uris(local_store, uri):
    with pytest.raises(InvalidBlobUri):
        local_store.read(uri, ACCOUNT_A)
    with pytest.raises(InvalidBlobUri):
        local_store.write(uri, b"x", ACCOUNT_A)


def test_join():
    join = BlobStore.join
    assert join("s3://bucket/out/", "job-1", "/a.json") == "s3://bucket/out/job-1/a.json"
    assert join("s3://bucket", "a", "b") == "s3://bucket/a/b"
    assert join("s3://bucket/", "", "a//b/", "c") == "s3://bucket/a/b/c"
    assert join("s3://bucket/out") == "s3://bucket/out"
    assert join("file:///", "data", "x.wav") == "file:///data/x.wav"
    assert join("file:///media/", "x.wav") == "file:///media/x.wav"
    with pytest.raises(InvalidBlobUri):
        join("bucket/out", "x")


# ---------------------------------------------------------------- S3 endpoint (real moto server)


def test_s3_round_trip(s3_store, moto_server, bucket, tmp_path):
    uri = f"s3://{bucket}/in/doc.json"
    assert not s3_store.exists(uri, ACCOUNT_A)
    s3_store.write(uri, b'{"a": 1}', ACCOUNT_A, content_type="application/json")
    assert s3_store.read(uri, ACCOUNT_A) == b'{"a": 1}'
    assert s3_store.exists(uri, ACCOUNT_A)

    head = moto_server.client().head_object(Bucket=bucket, Key="in/doc.json")
    assert head["ContentType"] == "application/json"
    # The endpoint is used, not the local folder store.
    assert not (tmp_path / "blobs").exists()

    moto_server.client().put_object(Bucket=bucket, Key="from/outside.txt", Body=b"external")
    assert s3_store.read(f"s3://{bucket}/from/outside.txt", ACCOUNT_A) == b"external"


def test_s3_list_paginates_with_prefix_semantics(s3_store, bucket):
    keys = ["out/0.json", "out/1.json", "out/10.json", "out/2.json", "out/sub/3.json", "outer.txt", "zzz"]
    for key in keys:
        s3_store.write(f"s3://{bucket}/{key}", b"x", ACCOUNT_A)

    calls = []
    s3_store.s3_client.meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: calls.append(1))
    listed = s3_store.list(f"s3://{bucket}/out/", ACCOUNT_A)
    assert listed == [f"s3://{bucket}/{key}" for key in keys[:5]]
    assert len(calls) == 3  # page size 2: five keys take three requests

    assert s3_store.list(f"s3://{bucket}/out/1", ACCOUNT_A) == [f"s3://{bucket}/out/1.json", f"s3://{bucket}/out/10.json"]
    assert s3_store.list(f"s3://{bucket}/out", ACCOUNT_A)[-1] == f"s3://{bucket}/outer.txt"
    assert s3_store.list(f"s3://{bucket}", ACCOUNT_A) == [f"s3://{bucket}/{key}" for key in sorted(keys)]
    assert s3_store.list(f"s3://{bucket}/nothing", ACCOUNT_A) == []


def test_s3_missing_key_and_bucket(s3_store, bucket):
    with pytest.raises(BlobNotFound, match=f"s3://{bucket}/missing.txt"):
        s3_store.read(f"s3://{bucket}/missing.txt", ACCOUNT_A)
    assert not s3_store.exists(f"s3://{bucket}/missing.txt", ACCOUNT_A)

    with pytest.raises(BlobNotFound):
        s3_store.read("s3://no-such-bucket-here/key", ACCOUNT_A)
    with pytest.raises(BlobNotFound):
        s3_store.list("s3://no-such-bucket-here/", ACCOUNT_A)
    with pytest.raises(BlobNotFound):
        s3_store.write("s3://no-such-bucket-here/key", b"x", ACCOUNT_A)
    assert not s3_store.exists("s3://no-such-bucket-here/key", ACCOUNT_A)


def test_s3_size_limit(s3_store, bucket):
    s3_store.write(f"s3://{bucket}/big.bin", b"x" * 1000, ACCOUNT_A)
    with pytest.raises(BlobTooLarge):
        s3_store.read(f"s3://{bucket}/big.bin", ACCOUNT_A, max_bytes=999)
    assert len(s3_store.read(f"s3://{bucket}/big.bin", ACCOUNT_A, max_bytes=1000)) == 1000


def test_s3_keys_are_passed_through_verbatim(s3_store, bucket):
    # Real S3 keys may hold what a folder cannot (`a//b`, `..`): the endpoint store keeps them as they are.
    for key in ["a//b", "dir/../x", "sp ace/ü?#.txt"]:
        s3_store.write(f"s3://{bucket}/{key}", key.encode(), ACCOUNT_A)
        assert s3_store.read(f"s3://{bucket}/{key}", ACCOUNT_A) == key.encode()


def test_s3_unreachable_endpoint_error_hides_secret(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
        s3_access_key_id="AKIDEXAMPLE",
        s3_secret_access_key="super-secret-value",
    )
    store = BlobStore(settings)
    with pytest.raises(BlobError) as info:
        store.read("s3://bucket/key", ACCOUNT_A)
    assert "super-secret-value" not in str(info.value)
    assert "s3://bucket/key" in str(info.value)
