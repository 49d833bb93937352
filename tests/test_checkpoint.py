"""The one checkpoint mechanism: binding chunks to their manifest, resume, refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from darkmoments.checkpoint import Checkpoint, run_checkpointed
from darkmoments.errors import OutputPathError, StaleCheckpointError


def _draw(item):
    seed, n = item
    return np.random.default_rng(seed).normal(size=n)


def _npy(d, identity, *, resume):
    cp = Checkpoint(d, identity, resume=resume, suffix=".npy")
    items = [(s, 5) for s in range(4)]
    return run_checkpointed(
        _draw,
        items,
        keys=[f"{i:03d}" for i in range(4)],
        checkpoint=cp,
        save=lambda r, p: np.save(p, r),
        load=np.load,
    )


def test_resume_gives_identical_results_and_skips_done(tmp_path):
    d = tmp_path / "run"
    first = _npy(d, {"seed": 1}, resume=False)
    again = _npy(d, {"seed": 1}, resume=True)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    manifest = json.loads((d / "manifest.json").read_text())
    assert sorted(manifest["chunks"]) == ["000", "001", "002", "003"]


def test_existing_run_needs_resume(tmp_path):
    d = tmp_path / "run"
    _npy(d, {"seed": 1}, resume=False)
    with pytest.raises(StaleCheckpointError, match="--resume"):
        _npy(d, {"seed": 1}, resume=False)


def test_other_identity_refused_naming_the_setting(tmp_path):
    d = tmp_path / "run"
    _npy(d, {"seed": 1, "n_events": 20}, resume=False)
    with pytest.raises(StaleCheckpointError, match=r"n_events"):
        _npy(d, {"seed": 1, "n_events": 40}, resume=True)


def test_chunks_without_manifest_refused(tmp_path):
    d = tmp_path / "run"
    _npy(d, {"seed": 1}, resume=False)
    (d / "manifest.json").unlink()
    with pytest.raises(StaleCheckpointError, match=r"no manifest\.json"):
        _npy(d, {"seed": 1}, resume=False)
    with pytest.raises(StaleCheckpointError, match=r"no manifest\.json"):
        _npy(d, {"seed": 1}, resume=True)


def test_edited_or_truncated_chunk_refused(tmp_path):
    d = tmp_path / "run"
    _npy(d, {"seed": 1}, resume=False)
    f = d / "chunk_002.npy"
    np.save(f, np.zeros(5))  # a valid file with other numbers
    with pytest.raises(StaleCheckpointError, match=r"chunk_002\.npy.*checksum"):
        _npy(d, {"seed": 1}, resume=True)
    f.write_bytes(b"")  # truncated
    with pytest.raises(StaleCheckpointError, match=r"chunk_002\.npy"):
        _npy(d, {"seed": 1}, resume=True)


def test_unrecorded_leftover_is_recomputed(tmp_path):
    d = tmp_path / "run"
    ref = _npy(d, {"seed": 1}, resume=False)
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["chunks"]["001"]  # as if interrupted between the chunk write and its record
    (d / "manifest.json").write_text(json.dumps(manifest))
    np.save(d / "chunk_001.npy", np.zeros(5))
    again = _npy(d, {"seed": 1}, resume=True)
    np.testing.assert_array_equal(again[1], ref[1])


def test_missing_parent_directory_refused(tmp_path):
    with pytest.raises(OutputPathError, match="does not exist"):
        Checkpoint(tmp_path / "nope" / "run", {"seed": 1}, resume=False)


def test_in_memory_without_checkpoint_matches():
    out = run_checkpointed(
        _draw, [(0, 3), (1, 3)], keys=["a", "b"], checkpoint=None, save=None, load=None
    )
    np.testing.assert_array_equal(out[1], np.random.default_rng(1).normal(size=3))


def test_removed_chunk_is_recomputed_as_the_message_says(tmp_path):
    d = tmp_path / "run"
    ref = _npy(d, {"seed": 1}, resume=False)
    f = d / "chunk_003.npy"
    np.save(f, np.ones(5))
    with pytest.raises(StaleCheckpointError, match="remove the file to recompute it"):
        _npy(d, {"seed": 1}, resume=True)
    f.unlink()
    again = _npy(d, {"seed": 1}, resume=True)
    np.testing.assert_array_equal(again[3], ref[3])
