"""The gRPC service end to end: a real server on 127.0.0.1, a real catalog, real photos.

One server (auth off, URL allow-list for the loopback media server, server paths
under one folder) and one locked-down server (auth on, defaults) are shared by the
module. Status codes are checked on the raw stub; the client is checked for the
CLI's JSON shape.
"""

from __future__ import annotations

import http.server
import io
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from PIL import Image

from indexer.store.catalog import Catalog
from indexer.errors import BadInputError, NotFoundError, PermissionDeniedError
from search.service.client import NearmatchClient, ServiceError, asset, server_path
from indexer.media_types import MediaType
from search.envelope import Confidence, MatchEnvelope, MatchType
from search.thresholds import IMAGE
from search.proto_gen import nearmatch_pb2 as pb
from search.proto_gen import nearmatch_pb2_grpc as pb_grpc
from search.service.server import SERVICE_NAME, ServerConfig, create_server, stop_server
from search.service.url_fetch import FetchConfig

TOKEN = "test-token-9f3a"
CATALOG_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "retina")
ENVELOPE_KEYS = set(MatchEnvelope(False, Confidence.LOW, 0.0, MatchType.NONE, MediaType.IMAGE).to_dict())


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=quality)
    return out.getvalue()


def edited(image: np.ndarray) -> bytes:
    """A near-duplicate: 80 % centre crop, half size, JPEG quality 40."""
    h, w = image.shape[:2]
    crop = image[h // 10 : h - h // 10, w // 10 : w - w // 10]
    small = Image.fromarray(crop).resize((crop.shape[1] // 2, crop.shape[0] // 2))
    return jpeg(np.asarray(small), quality=40)


# --------------------------------------------------------------------- fixtures
class _MediaHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requested: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.requested.append(self.path)
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        if parsed.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.files.get(parsed.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")  # never trusted: content is sniffed
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if query.get("slow"):
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(float(query["slow"]))
            self.wfile.write(body[half:])
        else:
            self.wfile.write(body)


@pytest.fixture(scope="module")
def media_http(photos: dict[str, np.ndarray]) -> Iterator[int]:
    _MediaHandler.files = {"/coffee-copy": edited(photos["coffee"]), "/astronaut.jpg": jpeg(photos["astronaut"])}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MediaHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Path:
    directory = tmp_path_factory.mktemp("server_media")
    for name in CATALOG_PHOTOS:
        (directory / f"{name}.jpg").write_bytes(jpeg(photos[name]))
    return directory


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Iterator[tuple[int, Path]]:
    """Auth off; URLs to 127.0.0.1 allowed; server paths under media_dir; 8 MiB messages."""
    catalog = tmp_path_factory.mktemp("server_catalog") / "catalog"
    config = ServerConfig(catalog=catalog, port=0, workers=4, max_message_bytes=8 * 1024 * 1024,
                          max_upload_bytes=12 * 1024 * 1024, fetch=FetchConfig(allow_hosts=("127.0.0.1",)),
                          allow_server_paths=True, server_path_roots=(media_dir,), grace_s=2.0)
    server, port = create_server(config)
    with NearmatchClient(f"127.0.0.1:{port}") as client:
        for name in CATALOG_PHOTOS:
            client.ingest(name, server_path(str(media_dir / f"{name}.jpg")), metadata={"sku": name.upper()})
    yield port, catalog
    stop_server(server, 2.0)


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Iterator[int]:
    """Auth on, every other setting at its default (no URL allow-list, no server paths)."""
    catalog = tmp_path_factory.mktemp("locked_catalog") / "catalog"
    server, port = create_server(ServerConfig(catalog=catalog, port=0, workers=2, auth_token=TOKEN, grace_s=1.0))
    with NearmatchClient(f"127.0.0.1:{port}", token=TOKEN) as client:
        client.ingest("coffee", jpeg(photos["coffee"]))
    yield port
    stop_server(server, 1.0)


@pytest.fixture(scope="module")
def client(open_server: tuple[int, Path]) -> Iterator[NearmatchClient]:
    with NearmatchClient(f"127.0.0.1:{open_server[0]}") as c:
        yield c


@pytest.fixture(scope="module")
def stub(open_server: tuple[int, Path]) -> Iterator[pb_grpc.NearmatchStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{open_server[0]}",
                                    options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
    yield pb_grpc.NearmatchStub(channel)
    channel.close()


def status_of(call, *args, **kwargs) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    assert info.value.details(), "every error carries a message"
    return info.value.code()


# --------------------------------------------------------------------- search and match
def test_search_ranks_the_original_first_for_edited_copies(client: NearmatchClient, photos) -> None:
    for name in CATALOG_PHOTOS:
        result = client.search(edited(photos[name]), top_k=3)
        assert set(result) == {"query", "processing_time_ms", "results"}
        best = result["results"][0]
        assert best["asset_id"] == name and best["rank"] == 1
        # This edit keeps 64 % of the picture at half size: ranked first, matched only above the
        # calibrated threshold (rocket scores just under it with the default extractor).
        assert best["match"] is (best["similarity_score"] >= IMAGE.match)
        assert best["metadata"] == {"sku": name.upper()}
        assert set(best) == ENVELOPE_KEYS | {"asset_id", "rank", "metadata"}
        assert [hit["rank"] for hit in result["results"]] == list(range(1, len(result["results"]) + 1))


def test_search_of_unrelated_photo_matches_nothing(client: NearmatchClient, photos) -> None:
    result = client.search(jpeg(photos["camera"]), top_k=5, matches_only=True)
    assert result["results"] == []


def test_exact_bytes_are_an_exact_match(client: NearmatchClient, media_dir: Path) -> None:
    best = client.search(media_dir / "rocket.jpg", top_k=1)["results"][0]
    assert (best["asset_id"], best["match_type"], best["similarity_score"]) == ("rocket", "exact", 1.0)


def test_pairwise_match(client: NearmatchClient, photos, media_dir: Path) -> None:
    same = client.match(edited(photos["chelsea"]), media_dir / "chelsea.jpg")
    assert set(same) == ENVELOPE_KEYS
    assert same["match"] is True and same["media_type"] == "image"
    other = client.match(edited(photos["chelsea"]), jpeg(photos["coffee"]))
    assert other["match"] is False and other["similarity_score"] < same["similarity_score"]
    by_id = client.match(edited(photos["retina"]), asset("retina"))
    assert by_id["match"] is True


def test_streamed_upload_gives_the_same_answer(open_server: tuple[int, Path], photos) -> None:
    query = edited(photos["astronaut"])
    with NearmatchClient(f"127.0.0.1:{open_server[0]}", stream_above_bytes=1000, chunk_bytes=4096) as streaming, \
            NearmatchClient(f"127.0.0.1:{open_server[0]}") as unary:
        streamed, direct = streaming.search(query, top_k=3), unary.search(query, top_k=3)
    assert [h["asset_id"] for h in streamed["results"]] == [h["asset_id"] for h in direct["results"]]
    assert [h["similarity_score"] for h in streamed["results"]] == [h["similarity_score"] for h in direct["results"]]


def test_search_by_url_from_allow_listed_loopback(client: NearmatchClient, media_http: int) -> None:
    result = client.search(f"http://127.0.0.1:{media_http}/coffee-copy", top_k=1)
    assert result["results"][0]["asset_id"] == "coffee" and result["results"][0]["match"] is True


# --------------------------------------------------------------------- catalog management
def test_ingest_get_delete_through_the_api(open_server: tuple[int, Path], photos) -> None:
    image = np.ascontiguousarray(photos["immunohistochemistry"])
    with NearmatchClient(f"127.0.0.1:{open_server[0]}", stream_above_bytes=2000, chunk_bytes=8192) as c:
        added = c.ingest("ihc", jpeg(image), metadata={"seller": 42, "tags": ["lab"]})  # streamed upload
        assert added["status"] == "added" and added["asset"]["width"] == image.shape[1]
        assert c.ingest("ihc", jpeg(image), metadata={"seller": 42, "tags": ["lab"]})["status"] == "unchanged"
        assert c.ingest("ihc", jpeg(image, quality=60), metadata={"seller": 42})["status"] == "replaced"
        record = c.get_asset("ihc")
        assert record["metadata"] == {"seller": 42} and record["media_type"] == "image"
        assert c.search(edited(image), top_k=1)["results"][0]["asset_id"] == "ihc"
        before = c.stats()["assets"]
        assert c.delete("ihc") == {"asset_id": "ihc", "deleted": True}
        assert c.stats()["assets"] == before - 1
        with pytest.raises(NotFoundError):
            c.get_asset("ihc")
        with pytest.raises(NotFoundError):
            c.delete("ihc")
        assert all(hit["asset_id"] != "ihc" for hit in c.search(edited(image), top_k=10)["results"])


def test_stats_match_the_cli_shape(client: NearmatchClient) -> None:
    stats = client.stats()
    assert stats["assets_by_media_type"]["image"] >= len(CATALOG_PHOTOS)
    assert {"assets", "indexed_frames", "generation", "features"} <= set(stats)


# --------------------------------------------------------------------- errors and limits
def test_undecodable_media_is_invalid_argument(stub: pb_grpc.NearmatchStub, photos) -> None:
    good = jpeg(photos["coffee"])
    for data in (b"this is not an image, a video or a sound", good[: len(good) // 3], b""):
        request = pb.SearchRequest(media=pb.Media(data=data, filename="upload.jpg"))
        assert status_of(stub.Search, request, timeout=30) == grpc.StatusCode.INVALID_ARGUMENT
    request = pb.IngestRequest(asset_id="junk", media=pb.Media(data=b"\xff\xd8\xff garbage"))
    assert status_of(stub.Ingest, request, timeout=30) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(stub.GetAsset, pb.GetAssetRequest(asset_id="junk"), timeout=5) == grpc.StatusCode.NOT_FOUND


def test_bad_requests_are_invalid_argument(stub: pb_grpc.NearmatchStub, photos) -> None:
    assert status_of(stub.Search, pb.SearchRequest(), timeout=5) == grpc.StatusCode.INVALID_ARGUMENT
    too_many = pb.SearchRequest(media=pb.Media(data=jpeg(photos["coffee"])), top_k=100_000)
    assert status_of(stub.Search, too_many, timeout=5) == grpc.StatusCode.INVALID_ARGUMENT
    bad_meta = pb.IngestRequest(asset_id="x", media=pb.Media(data=jpeg(photos["coffee"])), metadata_json="[1, 2")
    assert status_of(stub.Ingest, bad_meta, timeout=5) == grpc.StatusCode.INVALID_ARGUMENT
    headless = iter([pb.SearchUploadRequest(chunk=b"abc")])
    assert status_of(stub.SearchUpload, headless, timeout=5) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(stub.Match, pb.MatchRequest(source=pb.Media(asset_id="nope"),
                                                 target=pb.Media(asset_id="coffee")), timeout=5) == \
        grpc.StatusCode.NOT_FOUND


def test_oversized_requests_are_resource_exhausted(stub: pb_grpc.NearmatchStub) -> None:
    big = pb.SearchRequest(media=pb.Media(data=b"\0" * (9 * 1024 * 1024)))  # over the 8 MiB message cap
    assert status_of(stub.Search, big, timeout=30) == grpc.StatusCode.RESOURCE_EXHAUSTED
    chunks = [pb.SearchUploadRequest(header=pb.SearchRequest())] + \
        [pb.SearchUploadRequest(chunk=b"\0" * (1024 * 1024)) for _ in range(13)]  # over the 12 MiB upload cap
    assert status_of(stub.SearchUpload, iter(chunks), timeout=30) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_pixel_cap_is_resource_exhausted(stub: pb_grpc.NearmatchStub) -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 5000)).save(out, "PNG")  # 100 MP, a few kB compressed
    request = pb.SearchRequest(media=pb.Media(data=out.getvalue()))
    assert status_of(stub.Search, request, timeout=30) == grpc.StatusCode.RESOURCE_EXHAUSTED
    ingest = pb.IngestRequest(asset_id="huge", media=pb.Media(data=out.getvalue()))
    assert status_of(stub.Ingest, ingest, timeout=30) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_deadline_exceeded(stub: pb_grpc.NearmatchStub, photos) -> None:
    request = pb.SearchRequest(media=pb.Media(data=jpeg(photos["astronaut"])))
    with pytest.raises(grpc.RpcError) as info:
        stub.Search(request, timeout=0.0005)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_server_paths_outside_the_root_are_refused(stub: pb_grpc.NearmatchStub, media_dir: Path) -> None:
    outside = pb.SearchRequest(media=pb.Media(server_path=str(media_dir / ".." / "elsewhere.jpg")))
    assert status_of(stub.Search, outside, timeout=5) == grpc.StatusCode.PERMISSION_DENIED
    missing = pb.SearchRequest(media=pb.Media(server_path=str(media_dir / "missing.jpg")))
    assert status_of(stub.Search, missing, timeout=5) == grpc.StatusCode.NOT_FOUND


# --------------------------------------------------------------------- SSRF through the API
@pytest.mark.parametrize(
    "template",
    ["http://127.0.0.1:{port}/coffee-copy", "http://localhost:{port}/coffee-copy", "http://2130706433:{port}/x",
     "http://0177.0.0.1:{port}/x", "http://0x7f.1:{port}/x", "http://[::1]:{port}/x",
     "http://[::ffff:127.0.0.1]:{port}/x", "http://169.254.169.254/latest/meta-data/",
     "http://metadata.google.internal/computeMetadata/v1/", "http://[fd00:ec2::254]/"],
)
def test_locked_server_refuses_internal_urls(locked_server: int, media_http: int, template: str) -> None:
    with NearmatchClient(f"127.0.0.1:{locked_server}", token=TOKEN) as c:
        with pytest.raises(PermissionDeniedError):
            c.search(template.format(port=media_http))


@pytest.mark.parametrize("target", ["http://localhost:{port}/astronaut.jpg", "http://[::1]:{port}/astronaut.jpg",
                                    "http://0x7f.0.0.2:{port}/astronaut.jpg"])
def test_redirect_from_allowed_host_to_blocked_host_is_refused(client: NearmatchClient, media_http: int,
                                                               target: str) -> None:
    to = urllib.parse.quote(target.format(port=media_http))
    with pytest.raises(PermissionDeniedError):
        client.search(f"http://127.0.0.1:{media_http}/redirect?to={to}")


def test_locked_server_refuses_server_paths(locked_server: int, media_dir: Path) -> None:
    with NearmatchClient(f"127.0.0.1:{locked_server}", token=TOKEN) as c:
        with pytest.raises(PermissionDeniedError, match="disabled"):
            c.search(server_path(str(media_dir / "coffee.jpg")))


# --------------------------------------------------------------------- auth, health, reflection
def test_auth_token_is_required_except_for_health(locked_server: int, photos) -> None:
    address = f"127.0.0.1:{locked_server}"
    query = edited(photos["coffee"])
    for token in (None, "wrong-token"):
        with NearmatchClient(address, token=token) as c:
            with pytest.raises(ServiceError) as info:
                c.search(query)
            assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(ServiceError):
                c.ingest("x", query)  # unary
    with NearmatchClient(address, stream_above_bytes=100) as c:
        with pytest.raises(ServiceError) as info:
            c.search(query)  # client-streaming upload
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
    with NearmatchClient(address, token=TOKEN) as c:
        assert c.search(query)["results"][0]["asset_id"] == "coffee"
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status == \
            health_pb2.HealthCheckResponse.SERVING


def test_auth_off_needs_no_token(client: NearmatchClient) -> None:
    assert client.stats()["assets"] >= len(CATALOG_PHOTOS)


def test_health_and_reflection(open_server: tuple[int, Path]) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{open_server[0]}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE_NAME):
            response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME)]
        listed, described = list(reflect.ServerReflectionInfo(iter(requests), timeout=5))
        names = {s.name for s in listed.list_services_response.service}
        assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names
        assert described.file_descriptor_response.file_descriptor_proto  # enough for grpcurl


# --------------------------------------------------------------------- shutdown
def test_graceful_shutdown_finishes_in_flight_and_leaves_catalog_consistent(
        tmp_path: Path, photos, media_http: int) -> None:
    catalog = tmp_path / "catalog"
    config = ServerConfig(catalog=catalog, port=0, workers=2, fetch=FetchConfig(allow_hosts=("127.0.0.1",)))
    server, port = create_server(config)
    address = f"127.0.0.1:{port}"
    with NearmatchClient(address) as c:
        c.ingest("coffee", jpeg(photos["coffee"]), metadata={"k": 1})
        outcome: dict[str, object] = {}

        def slow_search() -> None:  # the media server takes 1 s to send the query
            try:
                outcome["result"] = c.search(f"http://127.0.0.1:{media_http}/coffee-copy?slow=1.0")
            except Exception as exc:  # noqa: BLE001 - recorded for the assertion below
                outcome["error"] = exc

        worker = threading.Thread(target=slow_search)
        worker.start()
        for _ in range(200):  # until the server is fetching the query: the request is in flight
            if any("slow=" in path for path in _MediaHandler.requested):
                break
            time.sleep(0.05)
        stop_server(server, grace_s=10.0)
        worker.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"]["results"][0]["asset_id"] == "coffee"  # type: ignore[index]
    with NearmatchClient(address, timeout_s=2) as c:
        with pytest.raises(ServiceError):
            c.stats()  # no longer serving
    with Catalog.open(catalog, None, create=False) as reopened:
        assert reopened.require("coffee").metadata == {"k": 1}
        assert reopened.stats()["indexed_frames"] == 1


def test_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(BadInputError):
        ServerConfig(catalog=tmp_path, tls_cert=tmp_path / "cert.pem")
    with pytest.raises(BadInputError):
        ServerConfig(catalog=tmp_path, auth_token="  ")


def test_client_raises_for_missing_local_file(client: NearmatchClient, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        client.search(tmp_path / "nope.jpg")


def test_large_query_is_streamed_past_the_message_cap(client: NearmatchClient) -> None:
    # 9 MiB is over the 8 MiB message cap: the client streams it, so the server gets to
    # sniff it (and refuses it as undecodable rather than as too large).
    with pytest.raises(BadInputError):
        client.search(b"\0" * (9 * 1024 * 1024))
