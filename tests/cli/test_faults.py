"""Faults a new user hit: two writers, colliding ids, partial failure, bad index settings, delete reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import grpc
import pytest

from indexer.decode.sources import is_http_url, local_path
from indexer.errors import CatalogBusyError, NearmatchError
from search.cli.main import main
from search.service.status import ERROR_OF_STATUS, STATUS_OF_ERROR, status_of
from tests.cli.test_serve import start_serve, stop_serve


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, list[dict], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    parsed = [json.loads(line) for line in captured.out.splitlines() if line.strip()] if "--json" in argv else []
    return code, parsed, captured.err


def test_a_second_writer_is_refused_while_a_server_writes(tmp_path: Path, photo_dir: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    catalog = tmp_path / "cat"
    assert run(capsys, "ingest", "--catalog", str(catalog), "--json", str(photo_dir / "rocket.jpg"))[0] == 0
    process, address = start_serve("--catalog", str(catalog))
    try:
        code, _, err = run(capsys, "ingest", "--catalog", str(catalog), "--json", str(photo_dir / "coffee.jpg"))
        assert code == 2
        assert "only writer" in err and f"pid {process.pid}" in err and "--server" in err
        # Reading beside the server is fine, and the refused asset was never stored.
        code, results, _ = run(capsys, "search", "--catalog", str(catalog), "--json", str(photo_dir / "coffee.jpg"))
        assert code == 0 and "coffee.jpg" not in [hit["asset_id"] for hit in results[0]["results"]]
        # Sent to the server instead, it is searchable through the server and, after it stops, locally.
        assert run(capsys, "ingest", "--server", address, "--json", str(photo_dir / "coffee.jpg"))[0] == 0
        # stats and delete work over --server too, with the local JSON and exit codes.
        code, remote_stats, _ = run(capsys, "stats", "--server", address, "--json")
        assert code == 0 and remote_stats[0]["assets"] == 2
        code, local_stats, _ = run(capsys, "stats", "--catalog", str(catalog), "--json")
        assert set(local_stats[0]) == set(remote_stats[0]) and local_stats[0]["assets"] == 2
        code, reports, _ = run(capsys, "delete", "--server", address, "--json", "missing")
        assert code == 3 and reports[0] == {"deleted": [], "failed": [
            {"asset_id": "missing", "error": reports[0]["failed"][0]["error"], "kind": "NotFoundError"}]}
        assert main(["stats", "--server", address]) == 0
        assert "2 asset(s) (2 image)" in capsys.readouterr().out
        query = str(photo_dir / "rocket.jpg")
        remote = run(capsys, "search", "--server", address, "--json", query)[1][0]
        local = run(capsys, "search", "--catalog", str(catalog), "--json", query)[1][0]
        assert remote["query"] == local["query"] == query
        assert [h["asset_id"] for h in remote["results"]] == [h["asset_id"] for h in local["results"]]
        for where in (("--server", address), ("--catalog", str(catalog))):
            code, _, err = run(capsys, "search", *where, "--top-k", "0", query)
            assert code == 2 and "top_k between 1 and" in err
    finally:
        assert stop_serve(process) == 0
    code, results, _ = run(capsys, "search", "--catalog", str(catalog), "--json", str(photo_dir / "coffee.jpg"))
    assert code == 0 and results[0]["results"][0]["asset_id"] == "coffee.jpg"


def test_colliding_asset_ids_are_refused_naming_both_paths(tmp_path: Path, photo_dir: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    for folder, photo in (("dupA", "rocket"), ("dupB", "coffee")):
        (tmp_path / folder).mkdir()
        shutil.copy(photo_dir / f"{photo}.jpg", tmp_path / folder / "x.jpg")
    catalog = str(tmp_path / "cat")
    code, _, err = run(capsys, "ingest", "--catalog", catalog, str(tmp_path / "dupA" / "x.jpg"),
                       str(tmp_path / "dupB" / "x.jpg"))
    assert code == 2 and "dupA/x.jpg" in err and "dupB/x.jpg" in err and "--id-from" in err
    code, _, err = run(capsys, "ingest", "--catalog", catalog, str(tmp_path / "dupA"), str(tmp_path / "dupB"))
    assert code == 2 and "'x.jpg'" in err
    code, reports, _ = run(capsys, "ingest", "--catalog", catalog, "--json", "--id-from", "relative",
                           str(tmp_path / "dupA"), str(tmp_path / "dupB"))
    assert code == 0 and reports[0]["ingested"] == 2
    code, stats, _ = run(capsys, "stats", "--catalog", catalog, "--json")
    assert stats[0]["assets"] == 2
    code, reports, _ = run(capsys, "ingest", "--catalog", catalog, "--json", "--id-prefix", "shop1/",
                           str(tmp_path / "dupA" / "x.jpg"))
    assert code == 0 and reports[0]["ingested"] == 1
    code, results, _ = run(capsys, "search", "--catalog", catalog, "--json", str(tmp_path / "dupA" / "x.jpg"))
    assert {"dupA/x.jpg", "shop1/x.jpg"} <= {hit["asset_id"] for hit in results[0]["results"]}


def test_partial_failure_exits_3_and_lists_each_failure_once(tmp_path: Path, photo_dir: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(photo_dir / "rocket.jpg", folder / "good.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video at all\n" * 20)
    code, reports, err = run(capsys, "ingest", "--catalog", str(tmp_path / "cat"), "--json", str(folder))
    assert code == 3
    assert reports[0]["ingested"] == 1 and sorted(f["asset_id"] for f in reports[0]["failed"]) == ["empty.jpg",
                                                                                                   "text.mp4"]
    code = main(["ingest", "--catalog", str(tmp_path / "cat"), str(folder)])
    printed = capsys.readouterr()
    assert code == 3
    assert (printed.out + printed.err).count("text.mp4") == 2  # once as its path, once inside its message
    assert "Errno" not in printed.out + printed.err


def test_delete_reports_each_id(tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture) -> None:
    catalog = str(tmp_path / "cat")
    run(capsys, "ingest", "--catalog", catalog, str(photo_dir / "rocket.jpg"), str(photo_dir / "coffee.jpg"))
    code, reports, _ = run(capsys, "delete", "--catalog", catalog, "--json", "rocket.jpg", "missing")
    assert code == 3
    assert reports[0]["deleted"] == ["rocket.jpg"] and [f["asset_id"] for f in reports[0]["failed"]] == ["missing"]
    code, stats, _ = run(capsys, "stats", "--catalog", catalog, "--json")
    assert stats[0]["assets"] == 1
    assert run(capsys, "delete", "--catalog", catalog, "coffee.jpg")[0] == 0


def test_a_bad_index_factory_is_bad_input_and_leaves_nothing_behind(tmp_path: Path, photo_dir: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    catalog = tmp_path / "cat"
    code, _, err = run(capsys, "ingest", "--catalog", str(catalog), "--index-factory", "HNSWW32",
                       str(photo_dir / "rocket.jpg"))
    assert code == 2 and "HNSWW32" in err
    assert not catalog.exists()
    code, reports, _ = run(capsys, "ingest", "--catalog", str(catalog), "--json", str(photo_dir / "rocket.jpg"))
    assert code == 0 and reports[0]["ingested"] == 1


def test_version_and_help_on_positionals(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("nearmatch ")
    with pytest.raises(SystemExit):
        main(["match", "--help"])
    text = capsys.readouterr().out
    assert "the query side" in text and "compared with" in text


def test_one_error_table_both_ways() -> None:
    assert status_of(CatalogBusyError("x")) is grpc.StatusCode.ABORTED
    assert status_of(NearmatchError("x")) is grpc.StatusCode.INVALID_ARGUMENT
    assert all(ERROR_OF_STATUS[code] is cls for cls, code in STATUS_OF_ERROR.items())


def test_file_urls_and_upper_case_schemes(tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture) -> None:
    spaced = tmp_path / "a photo.jpg"
    shutil.copy(photo_dir / "rocket.jpg", spaced)
    catalog = str(tmp_path / "cat")
    assert run(capsys, "ingest", "--catalog", catalog, str(photo_dir / "rocket.jpg"))[0] == 0
    code, results, _ = run(capsys, "search", "--catalog", catalog, "--json", "FILE://" + str(spaced).replace(" ", "%20"))
    assert code == 0 and results[0]["results"][0]["asset_id"] == "rocket.jpg"
    assert is_http_url("HTTPS://example.com/a.jpg") and is_http_url("Http://example.com") and not is_http_url("a.jpg")
    assert local_path("file://localhost/tmp/x%20y.mp4") == Path("/tmp/x y.mp4")


def test_local_commands_accept_allow_url_host(tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture) -> None:
    catalog = str(tmp_path / "cat")
    assert run(capsys, "ingest", "--catalog", catalog, str(photo_dir / "rocket.jpg"))[0] == 0
    # Nothing listens on port 9 of loopback: without the flag the address is refused, with it the fetch is tried.
    code, _, err = run(capsys, "search", "--catalog", catalog, "http://127.0.0.1:9/a.jpg")
    assert code == 2 and "loopback" in err
    code, _, err = run(capsys, "search", "--catalog", catalog, "--allow-url-host", "127.0.0.1", "http://127.0.0.1:9/a.jpg")
    assert code == 2 and "loopback" not in err


def test_list_pages_locally_and_over_a_server_with_the_same_json(tmp_path: Path, photo_dir: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    catalog = str(tmp_path / "cat")
    names = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg", "camera.jpg"]
    assert run(capsys, "ingest", "--catalog", catalog, *[str(photo_dir / n) for n in names])[0] == 0
    seen, token = [], ""
    while True:
        code, pages, _ = run(capsys, "list", "--catalog", catalog, "--json", "--page-size", "2", "--page-token", token)
        assert code == 0 and len(pages[0]["assets"]) <= 2
        seen += [a["asset_id"] for a in pages[0]["assets"]]
        token = pages[0]["next_page_token"]
        if not token:
            break
    assert seen == sorted(names)
    assert main(["list", "--catalog", catalog, "--csv", "--page-size", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("asset_id,media_type,source,sha256") and rows[1].startswith("astronaut.jpg,image,")
    assert run(capsys, "list", "--catalog", catalog, "--page-size", "0")[0] == 2
    process, address = start_serve("--catalog", catalog)
    try:
        for size in ("2", "10"):
            local = run(capsys, "list", "--catalog", catalog, "--json", "--page-size", size)[1]
            remote = run(capsys, "list", "--server", address, "--json", "--page-size", size)[1]
            assert remote == local
        assert run(capsys, "list", "--server", address, "--page-size", "5000")[0] == 2
    finally:
        assert stop_serve(process) == 0
