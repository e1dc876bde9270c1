"""LMDB postings: lookups agree with a plain in-memory join on both read paths, removal, the cap, format limits."""

from __future__ import annotations

from pathlib import Path

import lmdb
import numpy as np
import pytest

from indexer.features.audio_fingerprint import Fingerprint
from indexer.store import postings as audio_postings
from indexer.store.postings import (
    FORMAT_VERSION, KEY_SHIFT, MAX_TIME, AudioPostings, PostingsConfig, pack_hash_set, unpack_hash_set,
)
from search.align.audio import join_hashes


def _fp(seed: int, n: int, n_hashes: int = 500, max_time: int = MAX_TIME + 1) -> Fingerprint:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, n_hashes, n, dtype=np.uint32)
    times = np.sort(rng.integers(0, max_time, n, dtype=np.uint32))
    return Fingerprint(hashes=hashes, times=times, frame_s=0.016, duration_s=100.0)


def _env(path: Path) -> lmdb.Environment:
    return lmdb.open(str(path), max_dbs=4, map_size=1 << 30)


def _as_set(query_index: np.ndarray, asset: np.ndarray, time: np.ndarray) -> set[tuple[int, int, int]]:
    return set(zip(query_index.tolist(), asset.tolist(), time.tolist()))


def _reference(query: np.ndarray, assets: dict[int, Fingerprint], cap: int) -> set[tuple[int, int, int]]:
    hashes = np.concatenate([fp.hashes for fp in assets.values()])
    times = np.concatenate([fp.times for fp in assets.values()]).astype(np.int64)
    owners = np.concatenate([np.full(len(fp), num) for num, fp in assets.items()])
    # Deduplicate (hash, asset, time) as LMDB does, then join by hash.
    packed = np.unique(np.stack([hashes.astype(np.int64), owners, times], axis=1), axis=0)
    rows, ref_t = join_hashes(query, packed[:, 0].astype(np.uint32), np.arange(len(packed)), cap)
    return {(int(r), int(packed[t, 1]), int(packed[t, 2])) for r, t in zip(rows, ref_t)}


@pytest.fixture(params=["whole", "seek"])
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force lookup to read every bucket whole, or to seek hash by hash."""
    monkeypatch.setattr(audio_postings, "_WHOLE_BUCKET_ROWS", 10**9 if request.param == "whole" else -(10**9))
    return request.param


def test_lookup_matches_plain_join(tmp_path: Path, read_path: str) -> None:
    env = _env(tmp_path)
    postings = AudioPostings(env, PostingsConfig(max_postings_per_hash=12))
    assets = {3: _fp(1, 4000), 7: _fp(2, 3000), 2**32 - 1: _fp(3, 100)}
    with env.begin(write=True) as txn:
        for num, fp in assets.items():
            postings.add(txn, num, fp)
    query = np.concatenate([_fp(4, 300).hashes, np.array([9999, 5, 5], np.uint32)])
    with env.begin() as txn:
        got = _as_set(*postings.lookup(txn, query))
    expected = _reference(query, assets, cap=12)
    assert got == expected
    assert len(got) > 100
    # Some hashes carry more than 12 rows and were skipped.
    assert _reference(query, assets, cap=0) > expected


def test_remove_deletes_only_that_asset(tmp_path: Path) -> None:
    env = _env(tmp_path)
    postings = AudioPostings(env)
    a, b = _fp(1, 2000), _fp(2, 2000)
    with env.begin(write=True) as txn:
        postings.add(txn, 1, a)
        postings.add(txn, 2, b)
    with env.begin(write=True) as txn:
        deleted = postings.remove(txn, 1, unpack_hash_set(pack_hash_set(a)))
    assert deleted == len(np.unique(np.stack([a.hashes, a.times]), axis=1).T)
    with env.begin() as txn:
        _, assets, _ = postings.lookup(txn, np.arange(500, dtype=np.uint32))
        assert set(assets.tolist()) == {2}
        assert postings.stats(txn)["rows"] == len(np.unique(np.stack([b.hashes, b.times]), axis=1).T)


def test_hour_long_times_do_not_alias_and_survive_reopen(tmp_path: Path) -> None:
    env = _env(tmp_path)
    fp = _fp(5, 1000, max_time=MAX_TIME + 1)
    with env.begin(write=True) as txn:
        AudioPostings(env, txn=txn).add(txn, 42, fp)
    env.close()
    env = _env(tmp_path)
    postings = AudioPostings(env, create=False)
    with env.begin() as txn:
        rows, assets, times = postings.lookup(txn, fp.hashes)
    assert set(times.tolist()) == set(fp.times.astype(np.int64).tolist())
    assert set(assets.tolist()) == {42}
    assert times.max() > MAX_TIME // 2


def test_pack_hash_set_roundtrip() -> None:
    fp = _fp(6, 5000, n_hashes=2**32 - 1)
    assert np.array_equal(unpack_hash_set(pack_hash_set(fp)), np.unique(fp.hashes))
    assert len(pack_hash_set(_fp(7, 5000, n_hashes=2**21))) < 2.2 * 5000


def test_empty_lookup_and_bad_asset_num(tmp_path: Path) -> None:
    env = _env(tmp_path)
    postings = AudioPostings(env)
    with env.begin() as txn:
        rows, assets, times = postings.lookup(txn, np.array([1, 2, 3], np.uint32))
    assert rows.shape == assets.shape == times.shape == (0,)
    with env.begin(write=True) as txn, pytest.raises(ValueError):
        postings.add(txn, -1, _fp(1, 10))


def _put(postings: AudioPostings, env: lmdb.Environment, asset_num: int, hashes: list[int], times: list[int]) -> None:
    fp = Fingerprint(hashes=np.array(hashes, np.uint32), times=np.array(times, np.uint32), frame_s=0.016, duration_s=1.0)
    with env.begin(write=True) as txn:
        postings.add(txn, asset_num, fp)


def test_bucket_edges_and_shared_hashes(tmp_path: Path, read_path: str) -> None:
    """Hashes at both ends of a bucket and of its neighbours, each shared by several assets."""
    env = _env(tmp_path)
    postings = AudioPostings(env)
    edge = 5 << KEY_SHIFT
    hashes = [edge - 1, edge, edge + 1, (6 << KEY_SHIFT) - 1, 6 << KEY_SHIFT, 2**32 - 1, 0]
    for asset in (9, 2, 2**32 - 1):
        _put(postings, env, asset, hashes, [asset % 100 + i for i in range(len(hashes))])
    query = np.array([edge, edge - 1, edge, 6 << KEY_SHIFT, 2**32 - 1, 0, edge + 2], np.uint32)
    with env.begin() as txn:
        got = _as_set(*postings.lookup(txn, query))
    expected = {
        (q, asset, asset % 100 + hashes.index(int(h)))
        for q, h in enumerate(query.tolist()) if h in hashes
        for asset in (9, 2, 2**32 - 1)
    }
    assert got == expected
    assert len(got) == 6 * 3


def test_cap_skips_common_hashes(tmp_path: Path, read_path: str) -> None:
    env = _env(tmp_path)
    postings = AudioPostings(env, PostingsConfig(max_postings_per_hash=3))
    common, rare, neighbour = 77 << KEY_SHIFT, (77 << KEY_SHIFT) + 1, (77 << KEY_SHIFT) + 2
    for asset in range(4):  # 4 rows under `common`, 3 under `rare`, 1 under `neighbour`
        _put(postings, env, asset, [common] + [rare] * (asset < 3) + [neighbour] * (asset == 0), [10, 20, 30][: 1 + (asset < 3) + (asset == 0)])
    with env.begin() as txn:
        rows, assets, times = postings.lookup(txn, np.array([common, rare, neighbour], np.uint32))
    assert sorted(zip(rows.tolist(), assets.tolist(), times.tolist())) == [(1, 0, 20), (1, 1, 20), (1, 2, 20), (2, 0, 30)]


def test_remove_leaves_other_assets_under_the_same_hashes(tmp_path: Path) -> None:
    env = _env(tmp_path)
    postings = AudioPostings(env)
    hashes = [(3 << KEY_SHIFT) + 7, (3 << KEY_SHIFT) + 7, (3 << KEY_SHIFT) + 8, 2**32 - 1]
    for asset in (1, 2, 3):
        _put(postings, env, asset, hashes, [0, MAX_TIME, 5, MAX_TIME])
    with env.begin(write=True) as txn:
        assert postings.remove(txn, 2, np.array(hashes, np.uint32)) == 4
        assert postings.remove(txn, 2, np.array(hashes, np.uint32)) == 0
    with env.begin() as txn:
        rows, assets, times = postings.lookup(txn, np.array(hashes[1:], np.uint32))
        assert postings.stats(txn)["rows"] == 8
    assert sorted(set(zip(assets.tolist(), times.tolist()))) == [
        (1, 0), (1, 5), (1, MAX_TIME), (3, 0), (3, 5), (3, MAX_TIME)
    ]


def test_format_limits_round_trip_and_validation(tmp_path: Path) -> None:
    env = _env(tmp_path)
    postings = AudioPostings(env)
    assert FORMAT_VERSION == 2
    top = 2**32 - 1  # every field at its largest: all 72 value bits set
    _put(postings, env, top, [top, top, 0], [MAX_TIME, MAX_TIME - 1, MAX_TIME])
    with env.begin() as txn:
        rows, assets, times = postings.lookup(txn, np.array([top, 0], np.uint32))
    assert sorted(zip(rows.tolist(), assets.tolist(), times.tolist())) == [
        (0, top, MAX_TIME - 1), (0, top, MAX_TIME), (1, top, MAX_TIME)
    ]
    with env.begin(write=True) as txn:
        with pytest.raises(ValueError, match="anchor times"):
            postings.add(txn, 1, Fingerprint(np.array([1], np.uint32), np.array([MAX_TIME + 1], np.uint32), 0.016, 1.0))
        with pytest.raises(ValueError, match="asset_num"):
            postings.add(txn, 2**32, _fp(1, 10))
        assert postings.remove(txn, top, np.array([top, 0], np.uint32)) == 3
    with pytest.raises(ValueError):
        PostingsConfig(max_postings_per_hash=0)
