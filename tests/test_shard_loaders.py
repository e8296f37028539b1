"""Patch and paired shards load with the loaders trainers use: plain webdataset, wids
(through the shard index irdata writes, manifest/wids.json) and Hugging Face datasets'
`webdataset` builder. Each gives the samples the manifest lists, with their bytes."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pyarrow.parquet as pq
import pytest
import webdataset as wds
import wids
from inline_build import build_inline
from PIL import Image

from irdata.config import validate
from irdata.demo.synth import encode, procedural_image
from irdata.pairs.write import write_pair_shards


def _build(root, kinds: list[str]):
    (root / "photos").mkdir()
    for seed in range(3):
        (root / "photos" / f"p{seed}.png").write_bytes(
            encode(procedural_image(seed, 1100, 600, sky_fraction=0.0), "png"))
    config = validate({"sources": [{"name": "mine", "dir": str(root / "photos")}],
                       "images_per_partition": 1, "seed": 7,
                       "degrade": {"variants": 2, "kinds": kinds}}, "test", str(root))
    build_inline(config, str(root / "out"))
    return root / "out"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("loaders"), ["gaussian_noise", "jpeg"])


@pytest.fixture(scope="module")
def built_one_kind(tmp_path_factory):
    """Paired shards whose variants are all of one kind: one params struct."""
    return _build(tmp_path_factory.mktemp("loaders1"), ["gaussian_noise"])


def _tar_samples(paths) -> dict[str, dict[str, bytes]]:
    """{key: {ext: bytes}} of shards, read with tarfile (the reference)."""
    found: dict[str, dict[str, bytes]] = {}
    for path in paths:
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                key, _, ext = member.name.partition(".")
                found.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return found


def _shards(out, folder):
    return sorted(str(p) for p in (out / folder).glob("*.tar"))


def _kept_keys(out) -> list[str]:
    rows = pq.read_table(out / "manifest" / "patches.parquet").to_pylist()
    return [row["key"] for row in rows if row["kept"]]


def test_the_wids_indexes_list_every_shard(built):
    shards = pq.read_table(built / "manifest" / "shards.parquet").to_pylist()
    for name, stage in (("wids.json", "patch"), ("wids-paired.json", "degrade")):
        index = json.loads((built / "manifest" / name).read_text())
        assert index["__kind__"] == "wids-shard-index-v1"
        records = [r for r in shards if r["stage"] == stage]
        assert [(s["url"], s["nsamples"], s["filesize"], s["sha256"])
                for s in index["shardlist"]] == \
            [(f"../{r['path']}", r["samples"], r["bytes"], r["sha256"]) for r in records]


def test_plain_webdataset_reads_patch_and_paired_shards(built):
    for folder, extensions in (("patches", {"png", "json"}),
                               ("paired", {"gt.png", "lq.0.png", "lq.1.png", "json"})):
        reference = _tar_samples(_shards(built, folder))
        samples = list(wds.WebDataset(_shards(built, folder), shardshuffle=False))
        assert [s["__key__"] for s in samples] == list(reference)
        for sample in samples:
            assert {k for k in sample if not k.startswith("__")} == extensions
            assert sample["json"] == reference[sample["__key__"]]["json"]
    assert list(_tar_samples(_shards(built, "patches"))) == _kept_keys(built)


def test_wids_reads_them_through_the_index(built, tmp_path):
    for name, folder, image in (("wids.json", "patches", ".png"),
                                ("wids-paired.json", "paired", ".lq.1.png")):
        reference = _tar_samples(_shards(built, folder))
        # wids caches shards by file name under cache_dir: one folder per index
        dataset = wids.ShardListDataset(str(built / "manifest" / name),
                                        cache_dir=str(tmp_path / name))
        assert len(dataset) == len(reference)
        for index in range(len(dataset)):
            sample = dataset[index]
            stored = reference[sample["__key__"]]
            expected = np.asarray(Image.open(io.BytesIO(stored[image[1:]])))
            assert np.array_equal(np.asarray(sample[image]), expected)
            assert sample[".json"] == json.loads(stored["json"])
        assert [dataset[i]["__key__"] for i in range(len(dataset))] == list(reference)


def test_hugging_face_datasets_reads_them(built, built_one_kind, tmp_path, monkeypatch):
    """Patch shards, and paired shards of one degradation kind. (Paired shards mixing
    kinds hold a different params struct per kind; the builder infers one schema from
    the first samples and may refuse the rest: pipelines/TRAINING.md says so.)"""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets  # after the environment: it reads HF_* on import
    for out, folder, columns in ((built, "patches", {"png", "json"}),
                                 (built_one_kind, "paired",
                                  {"gt.png", "lq.0.png", "lq.1.png", "json"})):
        reference = _tar_samples(_shards(out, folder))
        loaded = datasets.load_dataset("webdataset", data_files={"train": _shards(out, folder)},
                                       split="train", cache_dir=str(tmp_path / folder))
        assert set(loaded.column_names) - {"__key__", "__url__"} == columns
        assert loaded["__key__"] == list(reference)
        first = loaded[0]
        image = "png" if folder == "patches" else "gt.png"
        expected = np.asarray(Image.open(io.BytesIO(reference[first["__key__"]][image])))
        assert np.array_equal(np.asarray(first[image]), expected)
        # the json member becomes one struct type for all samples: a key that another
        # sample's json has comes back as None
        assert _without_none(first["json"]) == json.loads(reference[first["__key__"]]["json"])


def _without_none(value):
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def test_pairs_output_has_a_wids_index_too(tmp_path):
    pairs = tmp_path / "rain"
    for sub in ("rainy", "norain"):
        (pairs / sub).mkdir(parents=True)
    for n in range(3):
        clean = procedural_image(n, 64, 48)
        (pairs / "norain" / f"norain-{n}.png").write_bytes(encode(clean, "png"))
        (pairs / "rainy" / f"rain-{n}.png").write_bytes(encode(255 - clean, "png"))
    write_pair_shards(str(pairs), str(tmp_path / "out"), per_shard=2)
    dataset = wids.ShardListDataset(str(tmp_path / "out" / "manifest" / "wids.json"),
                                    cache_dir=str(tmp_path / "cache"))
    assert len(dataset) == 3
    keys = {k for k in dataset[2] if not k.startswith("__")}
    assert ".json" in keys and len(keys) == 3  # input, target, metadata
