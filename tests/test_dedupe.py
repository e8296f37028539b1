"""Dedupe: exact pair search, union-find, keeper rules, confirmation, and planted
duplicates among real (procedurally generated, encoded, inspected) images."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from irdata.dedupe import search
from irdata.dedupe.clusters import (
    CRITERIA,
    DHASH_DISTANCE,
    PHASH_DISTANCE,
    SCHEMA,
    choose,
    costs,
    find_duplicates,
    union_find,
)
from irdata.dedupe.search import candidate_pairs, hamming, hex_to_u64, pairs_within
from irdata.demo import synth
from irdata.inspection import inspect_bytes


def choose_keepers(roots: np.ndarray, *figures, **named) -> np.ndarray:
    """Keeper index per item, as find_duplicates chooses it: `choose` over `costs`."""
    return choose(roots, costs(*figures, **named))[0]


def brute_force(hashes: np.ndarray, radius: int) -> np.ndarray:
    """Every pair (i < j) within radius, by blocks of the distance matrix."""
    n, out = len(hashes), [np.empty((0, 2), dtype=np.int64)]
    for start in range(0, n, 500):
        rows = np.arange(start, min(n, start + 500))
        block = hamming(hashes[rows, None], hashes[None, start:])
        i, j = np.nonzero((block <= radius) & (rows[:, None] < np.arange(start, n)))
        out.append(np.stack([rows[i], j + start], axis=1))
    return np.concatenate(out)


def flip(value: np.uint64, bits) -> np.uint64:
    for bit in bits:
        value ^= np.uint64(1) << np.uint64(bit)
    return value


def planted(n: int, radius: int, seed: int) -> np.ndarray:
    """n random hashes, then near copies of some at every distance 0..radius+1."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    for k, source in enumerate(rng.choice(n // 2, 10 * (radius + 2), replace=False)):
        distance = k % (radius + 2)
        hashes[n // 2 + k] = flip(hashes[source], rng.choice(64, distance, replace=False))
    return hashes


@pytest.fixture(scope="module")
def hashes_20k():
    """20k hashes with planted pairs at 0..9, and brute force's pairs within 9."""
    hashes = planted(20_000, 8, seed=7)
    pairs = brute_force(hashes, 9)
    return hashes, pairs, hamming(hashes[pairs[:, 0]], hashes[pairs[:, 1]])


def as_set(pairs: np.ndarray) -> set:
    return set(map(tuple, pairs.tolist()))


# -- search ------------------------------------------------------------------

def test_hex_to_u64_and_hamming():
    values = hex_to_u64(["0000000000000000", "ffffffffffffffff", "8000000000000001"])
    assert values.dtype == np.uint64
    assert values.tolist() == [0, 2**64 - 1, 2**63 + 1]
    assert hamming(values, values[[1, 2, 0]]).tolist() == [64, 62, 2]
    with pytest.raises(ValueError):
        hex_to_u64(["abc"])
    with pytest.raises(ValueError):
        hex_to_u64(["000000000000000g"])


@pytest.mark.parametrize("radius", [4, 6, 8])
def test_candidate_pairs_equal_brute_force_on_20k(hashes_20k, radius):
    hashes, brute, brute_distance = hashes_20k
    expected = brute[brute_distance <= radius]
    found = candidate_pairs(hashes, radius)
    assert found.shape[1] == 2 and np.all(found[:, 0] < found[:, 1])
    assert as_set(found) == as_set(expected)
    assert len(found) == len(expected)  # no pair twice
    distances = hamming(hashes[found[:, 0]], hashes[found[:, 1]])
    assert set(distances.tolist()) == set(range(radius + 1))  # every planted distance
    assert np.any(brute_distance == radius + 1)  # radius + 1 pairs exist, left out


@pytest.mark.parametrize("bands", [3, 4, 5, 8])
@pytest.mark.parametrize("radius", [0, 3, 8])
def test_every_band_count_is_exact(monkeypatch, bands, radius):
    """The 1M search uses 3 bands, small inputs more: each layout is exact."""
    hashes = planted(2000, radius, seed=bands * 10 + radius)
    monkeypatch.setattr(search, "choose_bands", lambda n, r: bands)
    assert as_set(pairs_within(hashes, radius)) == as_set(brute_force(hashes, radius))


def test_crowded_buckets_are_exact(monkeypatch):
    """Hashes that share a whole band (buckets of hundreds, far deeper than the
    passes that check one member each) still give brute force's pairs."""
    rng = np.random.default_rng(11)
    low = rng.integers(0, 4, 1500, dtype=np.uint64)  # 4 values in the first band
    hashes = low | (rng.integers(0, 2**42, 1500, dtype=np.uint64) << np.uint64(22))
    for k in range(0, 200, 2):  # near copies at distance 1..8, in the upper bits
        hashes[k + 1] = flip(hashes[k], rng.choice(np.arange(22, 64), k % 8 + 1,
                                                   replace=False))
    hashes = np.unique(hashes)
    monkeypatch.setattr(search, "choose_bands", lambda n, r: 3)
    found, expected = pairs_within(hashes, 8), brute_force(hashes, 8)
    assert len(expected) >= 100
    assert as_set(found) == as_set(expected) and len(found) == len(expected)


def test_identical_hashes_do_not_blow_up():
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**64 - 1, 10_200, dtype=np.uint64, endpoint=True)
    same = rng.permutation(10_200)[:10_000]
    hashes[same] = np.uint64(0x0123456789ABCDEF)
    neighbour = np.setdiff1d(np.arange(10_200), same)[0]
    hashes[neighbour] = flip(np.uint64(0x0123456789ABCDEF), [1, 40, 63])
    found = candidate_pairs(hashes, 8)
    first = same.min()
    assert len(found) < 10_050  # not 50M
    linked = as_set(found)
    assert all((first, int(i)) in linked for i in same if i != first)
    assert tuple(sorted((first, int(neighbour)))) in linked
    roots = union_find(len(hashes), found)
    assert len(set(roots[same].tolist() + [roots[neighbour]])) == 1


def test_grouped_pairs_exact_with_repeats_and_capped_groups():
    rng = np.random.default_rng(9)
    hashes = planted(3000, 8, seed=9)
    hashes[2000:2100] = hashes[rng.integers(0, 2000, 100)]  # pairs and triples of equal values
    pairs, big = search.grouped_pairs(hashes, 8)
    assert big == [] and as_set(pairs) == as_set(brute_force(hashes, 8))
    hashes[2100:2110] = hashes[0]  # a group of 11 > cap 4
    pairs, big = search.grouped_pairs(hashes, 8, cap=4)
    group = np.flatnonzero(hashes == hashes[0])
    assert [g.tolist() for g in big] == [group.tolist()]
    others = set(range(len(hashes))) - set(group[1:].tolist())
    expected = {p for p in as_set(brute_force(hashes, 8)) if set(p) <= others}
    assert as_set(pairs) == expected  # exact, but the big group only through its first


# -- union-find and keepers ----------------------------------------------------

def reference_components(n: int, pairs) -> list[int]:
    parent = list(range(n))

    def root(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    return [root(x) for x in range(n)]


def test_union_find_matches_reference_and_long_chains():
    rng = np.random.default_rng(5)
    pairs = rng.integers(0, 3000, (2000, 2))
    assert union_find(3000, pairs).tolist() == reference_components(3000, pairs.tolist())
    path = rng.permutation(5000)  # one long chain visited in random order
    chain = np.stack([path[:-1], path[1:]], axis=1)[rng.permutation(4999)]
    assert set(union_find(5000, chain).tolist()) == {0}
    assert union_find(4, np.empty((0, 2), dtype=np.int64)).tolist() == [0, 1, 2, 3]


def test_keeper_most_pixels_then_bytes_per_pixel_then_index():
    """Without quality figures (all null, so all tied) the rule is still: most
    pixels, then most bytes, then lowest index."""
    roots = np.array([0, 0, 0, 3, 3, 3, 6, 6])
    pixels = np.array([100, 400, 200, 50, 50, 40, 10, 10])
    nbytes = np.array([900, 10, 900, 20, 30, 99, 5, 5])
    keepers = choose_keepers(roots, pixels, nbytes)
    # most pixels wins over bytes; equal pixels: more bytes; all equal: lowest index
    assert keepers.tolist() == [1, 1, 1, 4, 4, 4, 6, 6]


def test_choose_keepers_filters_by_the_quality_figures_before_bytes():
    nan = np.nan
    roots = np.array([0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10])
    pixels = np.array([100, 100, 100, 400, 100, 100, 100, 100, 100, 100, 100, 100])
    nbytes = np.array([10, 99, 10, 99, 10, 99, 10, 99, 10, 99, 10, 99])
    upscaled = np.array([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, nan])
    noise = np.array([0.4, 1.0, 1, 1, 1, 1, 1, 1, 1, 1, 0.2, 0.4])
    quality = np.array([90, 90, 90, 90, nan, 90, 95, 89, 90, 90, 90, 90])
    sharpness = np.array([5, 5, 5, 5, 5, 5, 5, 5, 7.0, 5.4, 5, 5])
    keepers = choose_keepers(roots, pixels, nbytes, upscaled, noise, quality, sharpness)
    assert keepers.tolist() == [
        0, 0,  # noise 0.4 vs 1.0: 3.6 dB of detail (6 dB per level), whatever the bytes
        2, 2,  # 4x the pixels, but upscaled
        4, 4,  # null quality (lossless) is 100, more than 5 above q90
        6, 6,  # q95 vs q89: more than 5 apart
        8, 8,  # sharpness 7.0 vs 5.4: more than 1.5 dB of detail apart
        11, 11]  # null upscaled = not upscaled; noise 0.2 and 0.4 within 1.2 dB and 0.5: bytes


# -- find_duplicates ---------------------------------------------------------------

def image(image_id, phash, dhash="0" * 16, sha=None, size=(100, 100), nbytes=1000,
          upscaled=None, noise=None, jpeg_quality=None, sharpness=None, lost_detail=None,
          tonal_range=None):
    sha = sha or hashlib.sha256(image_id.encode()).hexdigest()
    return {"image_id": image_id, "sha256": sha,
            "phash": phash, "dhash": dhash, "width": size[0], "height": size[1],
            "nbytes": nbytes, "upscaled": upscaled, "noise": noise,
            "jpeg_quality": jpeg_quality, "sharpness": sharpness,
            "lost_detail": lost_detail, "tonal_range": tonal_range}


def run(images, **kwargs):
    columns = {k: [im[k] for im in images] for k in images[0]}
    return find_duplicates(**columns, **kwargs).to_pylist()


def test_keeper_rules_through_find_duplicates():
    base = "00000000ffffffff"
    rows = run([image("aa", base, size=(100, 100), nbytes=5000),
                image("bb", base, size=(200, 100), nbytes=100),  # most pixels
                image("cc", base, size=(100, 100), nbytes=9000)])
    assert [(r["image_id"], r["keeper"], r["dup_of"]) for r in rows] == [
        ("aa", False, "bb"), ("bb", True, None), ("cc", False, "bb")]
    # No quality figures (all null, all tied): at equal pixels, the least compressed.
    rows = run([image("aa", base, nbytes=5000), image("cc", base, nbytes=9000)])
    assert [r["image_id"] for r in rows if r["keeper"]] == ["cc"]  # least compressed
    rows = run([image("bb", base), image("aa", base)])
    assert [r["image_id"] for r in rows if r["keeper"]] == ["aa"]  # smallest id


BASE = "00000000ffffffff"  # one pHash: every image of a test below is one cluster


def decided(images) -> dict[str, tuple[bool, str]]:
    """image_id -> (keeper, keeper_reason) of a run in which all images cluster."""
    rows = run(images)
    assert len(rows) == len(images) and len({r["cluster_id"] for r in rows}) == 1
    return {r["image_id"]: (r["keeper"], r["keeper_reason"]) for r in rows}


def test_clean_copy_beats_a_noisier_bigger_higher_quality_copy():
    """Noise makes a JPEG bigger (and a noisy source may be saved at a higher
    quality): at the same size the clean copy is kept, not the one of most bytes."""
    got = decided([image("clean", BASE, nbytes=300_000, noise=0.8, jpeg_quality=85),
                   image("noisy", BASE, nbytes=900_000, noise=3.2, jpeg_quality=95)])
    assert got == {"clean": (True, "noise"), "noisy": (False, "noise")}


def test_upscaled_copy_loses_to_a_smaller_real_one():
    got = decided([image("small", BASE, size=(400, 300), upscaled=False, noise=2.5),
                   image("big", BASE, size=(1600, 1200), upscaled=True, noise=0.1,
                         sharpness=30.0, nbytes=10**7)])
    assert got == {"small": (True, "not_upscaled"), "big": (False, "not_upscaled")}
    # null upscaled means not upscaled
    got = decided([image("small", BASE, size=(400, 300), upscaled=None),
                   image("big", BASE, size=(1600, 1200), upscaled=True)])
    assert got == {"small": (True, "not_upscaled"), "big": (False, "not_upscaled")}


def test_more_pixels_beat_lower_noise_and_quality():
    got = decided([image("large", BASE, size=(200, 100), noise=4.0, jpeg_quality=60),
                   image("clean", BASE, size=(100, 100), noise=0.1, nbytes=10**6)])
    assert got == {"large": (True, "resolution"), "clean": (False, "resolution")}


def test_noise_compared_within_half_a_grey_level():
    # 1.2 and 1.6 are within 0.5 of the best: the JPEG quality decides
    got = decided([image("a", BASE, noise=1.6, jpeg_quality=90, nbytes=10),
                   image("b", BASE, noise=1.2, jpeg_quality=80, nbytes=99)])
    assert got == {"a": (True, "jpeg_quality"), "b": (False, "jpeg_quality")}
    # 0.5 and 1.1 are not: the least noisy wins, even at a lower quality
    got = decided([image("a", BASE, noise=1.1, jpeg_quality=95),
                   image("b", BASE, noise=0.5, jpeg_quality=60)])
    assert got == {"a": (False, "noise"), "b": (True, "noise")}
    # null noise counts as 0: ties with 0.4 (quality decides), beats 1.5
    got = decided([image("a", BASE, noise=0.4, jpeg_quality=80),
                   image("b", BASE, noise=None, jpeg_quality=90)])
    assert got == {"a": (False, "jpeg_quality"), "b": (True, "jpeg_quality")}
    got = decided([image("a", BASE, noise=1.5, jpeg_quality=95),
                   image("b", BASE, noise=None, jpeg_quality=60)])
    assert got == {"a": (False, "noise"), "b": (True, "noise")}


def test_tolerance_is_from_the_best_copy_not_a_chain():
    """0.0, 0.4 and 0.8: 0.8 is within 0.5 of 0.4 but not of the best, so it goes."""
    got = decided([image("a", BASE, noise=0.0, jpeg_quality=80, nbytes=1),
                   image("b", BASE, noise=0.4, jpeg_quality=90, nbytes=2),
                   image("c", BASE, noise=0.8, jpeg_quality=99, nbytes=3)])
    assert got == {"a": (False, "jpeg_quality"), "b": (True, "jpeg_quality"),
                   "c": (False, "noise")}


def test_png_beats_q90_and_jpeg_quality_within_five():
    got = decided([image("jpeg", BASE, jpeg_quality=90, nbytes=10**6, sharpness=5.5),
                   image("png", BASE, jpeg_quality=None, nbytes=10, sharpness=5.0)])
    assert got == {"jpeg": (False, "jpeg_quality"), "png": (True, "jpeg_quality")}
    # q91 and q94 are within 5: bytes decide; q100 ties with a PNG
    got = decided([image("q91", BASE, jpeg_quality=91, nbytes=99),
                   image("q94", BASE, jpeg_quality=94, nbytes=10)])
    assert got == {"q91": (True, "bytes"), "q94": (False, "bytes")}
    got = decided([image("png", BASE, jpeg_quality=None, nbytes=10),
                   image("q100", BASE, jpeg_quality=100, nbytes=20)])
    assert got == {"png": (False, "bytes"), "q100": (True, "bytes")}


def test_detail_within_one_and_a_half_db_null_worst():
    got = decided([image("soft", BASE, sharpness=10.4, nbytes=99),
                   image("sharp", BASE, sharpness=12.0, nbytes=10)])
    assert got == {"soft": (False, "detail"), "sharp": (True, "detail")}
    got = decided([image("a", BASE, sharpness=12.1, nbytes=10),  # within 1.5 dB
                   image("b", BASE, sharpness=12.9, nbytes=99)])
    assert got == {"a": (False, "bytes"), "b": (True, "bytes")}
    got = decided([image("a", BASE, sharpness=None, nbytes=99),  # null is the worst
                   image("b", BASE, sharpness=-5.0, nbytes=10)])
    assert got == {"a": (False, "detail"), "b": (True, "detail")}


def test_a_noisy_copy_loses_although_it_reads_sharper():
    """Noise a JPEG leaves behind adds fine-band energy: 1.2 levels more noise costs
    7.2 dB of detail, more than the 3 dB of sharpness it gained."""
    got = decided([image("orig", BASE, sharpness=-13.0, noise=0.3, jpeg_quality=85),
                   image("noisy", BASE, sharpness=-10.0, noise=1.5, jpeg_quality=92)])
    assert got == {"orig": (True, "detail"), "noisy": (False, "detail")}


def test_a_blurred_copy_loses_although_its_noise_reads_lower():
    """Blur lowers the noise reading: sharpness is checked first."""
    got = decided([image("orig", BASE, sharpness=-9.0, noise=1.4, jpeg_quality=85),
                   image("blur", BASE, sharpness=-18.0, noise=0.3, jpeg_quality=92)])
    assert got == {"orig": (True, "detail"), "blur": (False, "detail")}


def test_all_figures_tied_then_bytes_then_image_id():
    figures = {"upscaled": False, "noise": 0.4, "jpeg_quality": 92, "sharpness": 8.3}
    got = decided([image("a", BASE, nbytes=500, **figures),
                   image("b", BASE, nbytes=700, **figures),
                   image("c", BASE, nbytes=700, **figures)])
    # c loses to b on image_id only; b beat its runner-up (c) on image_id too
    assert got == {"a": (False, "bytes"), "b": (True, "image_id"), "c": (False, "image_id")}
    got = decided([image("a", BASE, nbytes=500, **figures),
                   image("b", BASE, nbytes=700, **figures)])
    assert got == {"a": (False, "bytes"), "b": (True, "bytes")}


def test_keeper_reason_names_what_beat_the_runner_up():
    """The keeper beat the runner-up on sharpness and the third on resolution: its
    own reason is the runner-up's (the closest contest), not the first criterion."""
    got = decided([image("keep", BASE, size=(200, 200), sharpness=15.0),
                   image("runner", BASE, size=(200, 200), sharpness=13.0, nbytes=10**6),
                   image("small", BASE, size=(100, 100), sharpness=40.0)])
    assert got == {"keep": (True, "detail"), "runner": (False, "detail"),
                   "small": (False, "resolution")}
    got = decided([image("keep", BASE, size=(200, 200), noise=0.5),
                   image("noisy", BASE, size=(200, 200), noise=2.5),
                   image("small", BASE, size=(100, 100))])
    assert got == {"keep": (True, "noise"), "noisy": (False, "noise"),
                   "small": (False, "resolution")}  # no sharpness: detail ties, noise decides


def test_exact_copies_lose_on_image_id_and_schema_has_the_reason():
    sha = "ef" * 32
    rows = run([image("x2", BASE, sha=sha), image("x1", BASE, sha=sha)],
               phash_distance=-1)
    assert [(r["image_id"], r["match"], r["keeper_reason"]) for r in rows] == [
        ("x1", None, "image_id"), ("x2", "exact", "image_id")]
    table = find_duplicates(["a", "b"], ["ab" * 32] * 2, [BASE] * 2, ["0" * 16] * 2,
                            [1, 1], [1, 1], [1, 1])
    assert table.schema == SCHEMA and "keeper_reason" in SCHEMA.names


def test_figures_are_optional_keywords():
    """Old callers (no figure keywords) get what all-null figures give."""
    images = synthetic_images(300, seed=5)
    columns = {k: [im[k] for im in images] for k in ("image_id", "sha256", "phash",
                                                     "dhash", "width", "height", "nbytes")}
    nulls = {name: [None] * len(images)
             for name in ("upscaled", "noise", "jpeg_quality", "sharpness")}
    plain = find_duplicates(*columns.values())
    assert plain.num_rows > 50
    assert plain == find_duplicates(*columns.values(), **nulls)
    assert set(plain["keeper_reason"].to_pylist()) <= {"resolution", "bytes", "image_id"}


def test_exact_duplicates_always_merged():
    sha = "ab" * 32
    rows = run([image("x1", "00000000ffffffff", sha=sha),
                image("x2", "00000000ffffffff", sha=sha),
                image("x3", "ffffffff00000000")], phash_distance=-1)
    assert [(r["image_id"], r["match"], r["cluster_id"]) for r in rows] == [
        ("x1", None, "x1"), ("x2", "exact", "x1")]


def test_near_pair_needs_dhash_agreement():
    far_dhash = "ffffffffff000000"  # 40 bits from the other's dHash
    assert run([image("a", "00000000ffffffff"),
                image("b", "00000003fffffffc", dhash=far_dhash)]) == []
    rows = run([image("a", "00000000ffffffff"),
                image("b", "00000003fffffffc", dhash="0000000000000007")])
    assert [(r["image_id"], r["match"], r["distance"], r["confirm_distance"])
            for r in rows] == [("a", None, 0, 0), ("b", "near", 4, 3)]


def test_decoy_with_the_same_phash_does_not_hide_a_near_pair():
    """c shares a's pHash and sorts first by dHash, but its dHash is far from b's."""
    rows = run([image("a", "00000000ffffffff", dhash="0000000000000fff"),
                image("b", "00000003fffffffc", dhash="0000000000000ffe"),
                image("c", "00000000ffffffff", dhash="0000000000000000")],
               dhash_distance=9)
    assert [(r["image_id"], r["cluster_id"]) for r in rows] == [("a", "a"), ("b", "a")]


def test_thousands_of_equal_phashes_stay_linear():
    rng = np.random.default_rng(2)
    dhashes = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True)
    dhashes[1] = flip(dhashes[0], [5, 6])  # one real near pair inside the group
    images = [image(f"{i:06d}", "00000000ffffffff", f"{int(dhashes[i]):016x}")
              for i in range(5000)]
    rows = run(images)
    assert {r["image_id"] for r in rows} == {"000000", "000001"}


def test_near_pair_beyond_phash_distance_not_merged():
    assert run([image("a", "0000000000000000"), image("b", "00000000000003ff")],
               phash_distance=8) == []


def synthetic_images(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    d = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    for k in range(0, n // 2, 3):  # near pairs and triples; some not confirmed
        p[k + 1] = flip(p[k], [k % 64, (k + 7) % 64])
        d[k + 1] = flip(d[k], [k % 64])
        p[k + 2] = p[k]
        if k % 2:
            d[k + 2] = flip(d[k], [(k + 3) % 64, (k + 9) % 64])
    images = [image(f"{int(rng.integers(2**62)):016x}", f"{int(p[i]):016x}",
                    f"{int(d[i]):016x}", size=(int(rng.integers(1, 4)) * 100, 100),
                    nbytes=int(rng.integers(1, 4)) * 1000) for i in range(n)]
    images[5]["sha256"] = images[4]["sha256"] = "cd" * 32  # an exact pair
    return images


def with_figures(images: list[dict], seed: int) -> list[dict]:
    """The same images with coarse random figures (many ties, some nulls), so that
    every criterion decides somewhere."""
    rng = np.random.default_rng(seed)

    def maybe(value, null_share=0.2):
        return None if rng.random() < null_share else value

    out = []
    for im in images:
        out.append({**im, "upscaled": maybe(bool(rng.random() < 0.2)),
                    "noise": maybe(float(rng.choice([0.3, 0.9, 1.1, 1.8, 2.5]))),
                    "jpeg_quality": maybe(int(rng.choice([60, 80, 90, 94, 100]))),
                    "sharpness": maybe(float(rng.choice([9.2, 9.8, 10.1, 11.0]))),
                    "lost_detail": maybe(float(rng.choice([0.0, 0.02, 0.2])), 0.6),
                    "tonal_range": maybe(float(rng.choice([200, 240, 250])), 0.6)})
    return out


TOLERANCE = {"not_upscaled": 0, "resolution": 0, "tonal_range": 24, "detail": 1.5,
             "noise": 0.5, "jpeg_quality": 5, "bytes": 0}


def reference_costs(im: dict) -> dict:
    """The keeper rule's costs written out plainly (lower is better)."""
    return {"not_upscaled": float(bool(im["upscaled"])),
            "resolution": -im["width"] * im["height"],
            "tonal_range": math.inf if im["tonal_range"] is None
            else -(im["tonal_range"] - 255 * (im["lost_detail"] or 0.0)),
            "detail": math.inf if im["sharpness"] is None
            else 6 * (im["noise"] or 0.0) - im["sharpness"],
            "noise": im["noise"] or 0.0,
            "jpeg_quality": -(100 if im["jpeg_quality"] is None else im["jpeg_quality"]),
            "bytes": -im["nbytes"]}


def reference_filter(members: list[dict]) -> tuple[str, dict]:
    """(keeper, step per member): keep the copies within tolerance of the best, step
    by step, then the smallest image_id; the keeper's step is the last that removed
    another copy."""
    alive, step = sorted(members, key=lambda im: im["image_id"]), {}
    for name, tolerance in TOLERANCE.items():
        best = min(reference_costs(im)[name] for im in alive)
        for im in alive:
            if reference_costs(im)[name] > best + tolerance:
                step[im["image_id"]] = name
        alive = [im for im in alive if im["image_id"] not in step]
    keeper = alive[0]["image_id"]
    for im in alive[1:]:
        step[im["image_id"]] = "image_id"
    order = list(CRITERIA)
    step[keeper] = max((s for k, s in step.items() if k != keeper), key=order.index)
    return keeper, step


def test_keepers_and_reasons_match_a_plain_reference():
    images = with_figures(synthetic_images(900, seed=13), seed=14)
    images += [dict(im, image_id=f"{im['image_id']}_copy", nbytes=im["nbytes"] + 1,
                    sha256=hashlib.sha256(im["image_id"].encode() + b"c").hexdigest())
               for im in images[:40]]  # tied on every figure: bytes decide
    twin = image("twin_a", "123456789abcdef0", sha="ee" * 32, noise=0.5)
    images += [twin, {**twin, "image_id": "twin_b"}]  # tied but for image_id
    rows = run(images)
    by_id = {im["image_id"]: im for im in images}
    clusters: dict[str, list[dict]] = {}
    for r in rows:
        clusters.setdefault(r["cluster_id"], []).append(by_id[r["image_id"]])
    reasons = set()
    for cluster_id, members in clusters.items():
        keeper, step = reference_filter(members)
        assert keeper == cluster_id
        for im in members:
            row = next(r for r in rows if r["image_id"] == im["image_id"])
            assert row["keeper_reason"] == step[im["image_id"]], (row, members)
            reasons.add(step[im["image_id"]])
    assert reasons == set(CRITERIA)  # every criterion decided somewhere


def test_output_does_not_depend_on_input_order():
    images = with_figures(synthetic_images(600, seed=11), seed=12)
    expected = run(images)
    assert len(expected) > 200
    rng = np.random.default_rng(0)
    for _ in range(3):
        shuffled = [images[i] for i in rng.permutation(len(images))]
        assert run(shuffled) == expected
    keys = [(r["cluster_id"], r["image_id"]) for r in expected]
    assert keys == sorted(keys)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unique"):
        run([image("a", "0" * 16), image("a", "0" * 16)])
    with pytest.raises(ValueError, match="same length"):
        find_duplicates(["a"], ["0" * 64], ["0" * 16], [], [1], [1], [1])
    with pytest.raises(ValueError, match="same length"):
        find_duplicates(["a"], ["0" * 64], ["0" * 16], ["0" * 16], [1], [1], [1],
                        noise=[1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        choose_keepers(np.array([0, 0]), np.array([1, 1]), np.array([1, 1]),
                       sharpness=np.array([1.0]))


# -- the stage ---------------------------------------------------------------------

def test_stage_reads_the_figures_and_counts_keeper_reasons(tmp_path):
    """raw/*.parquet in, figures passed on, keepers counted per reason; a raw table
    written before the figure columns existed reads them as null."""
    from irdata.stages import complete, fetch
    from irdata.storage import Output

    def raw(image_id, phash, **kwargs):
        im = image(image_id, phash, **kwargs)
        return {**im, "bytes": im.pop("nbytes"), "status": "ok"}

    out = Output(str(tmp_path))
    first = [raw("clean", BASE, nbytes=100, noise=0.8, jpeg_quality=85),
             raw("noisy", BASE, nbytes=900, noise=3.2, jpeg_quality=95),
             raw("real", "ffffffff00000000", size=(100, 100), upscaled=False),
             {**raw("failed", BASE, noise=0.0), "status": "error"}]
    old = [raw("blown_up", "ffffffff00000000", size=(400, 400)),
           raw("a_copy", "0f0f0f0f0f0f0f0f", nbytes=10),
           raw("b_copy", "0f0f0f0f0f0f0f0f", nbytes=20)]
    with out.atomic(fetch.outputs(0)["parquet"]) as fh:
        pq.write_table(pa.Table.from_pylist(first, schema=fetch.SCHEMA), fh)
    old_names = ["image_id", "status", "sha256", "phash", "dhash", "width", "height",
                 "bytes"]
    with out.atomic(fetch.outputs(1)["parquet"]) as fh:
        pq.write_table(pa.Table.from_pylist(old, schema=fetch.SCHEMA).select(old_names), fh)
    config = {"dedupe": {"enabled": True, "phash_distance": PHASH_DISTANCE,
                         "dhash_distance": DHASH_DISTANCE}, "storage_options": {}}
    stats = complete("dedupe", config, str(tmp_path), 0, partitions=2)
    clusters = pq.read_table(tmp_path / "dedupe" / "clusters.parquet")
    assert clusters.schema == SCHEMA
    got = {r["image_id"]: (r["keeper"], r["keeper_reason"]) for r in clusters.to_pylist()}
    assert got == {"clean": (True, "noise"), "noisy": (False, "noise"),
                   "real": (False, "resolution"), "blown_up": (True, "resolution"),
                   "a_copy": (False, "bytes"), "b_copy": (True, "bytes")}
    assert stats["keeper_reasons"] == {"bytes": 1, "noise": 1, "resolution": 1}
    assert json.loads((tmp_path / "dedupe" / "stats.json").read_text()) == stats
    assert stats["status"] == {"unique": 3, "duplicate": 3}


# -- real images -------------------------------------------------------------------

def inspected(image_id: str, data: bytes) -> dict:
    found = inspect_bytes(data, 300_000_000, 1)
    assert found.status == "ok"
    return {"image_id": image_id, "sha256": found.sha256, "phash": found.phash,
            "dhash": found.dhash, "width": found.width, "height": found.height,
            "nbytes": found.bytes}


def crop(pixels: np.ndarray, left: float, top: float, right: float, bottom: float) -> bytes:
    h, w = pixels.shape[:2]
    part = pixels[int(h * top):h - int(h * bottom), int(w * left):w - int(w * right)]
    return synth.encode(np.ascontiguousarray(part))


@pytest.fixture(scope="module")
def real_images():
    """Six distinct 800x600 images, each with a 0.5x + JPEG q70 copy and two 5%
    crops (one side, each side). As on real photos (irdata/dedupe/CALIBRATION.md),
    about half of the crops land within the default distances."""
    images, crops = [], []
    for seed in (1, 2, 3, 4, 10, 11):
        pixels = synth.procedural_image(seed, 800, 600)
        images.append(inspected(f"s{seed:02d}", synth.encode(pixels)))
        images.append(inspected(f"s{seed:02d}_half", synth.near_duplicate(pixels, 0.5, 70)))
        for name, box in {"left": (0.05, 0, 0, 0), "all": (0.05,) * 4}.items():
            crops.append(inspected(f"s{seed:02d}_crop_{name}", crop(pixels, *box)))
    return images, crops


def test_real_resized_reencoded_copies_found_and_distinct_kept_apart(real_images):
    images, _ = real_images
    rows = run(images)
    clusters = {r["image_id"]: r["cluster_id"] for r in rows}
    originals = [im["image_id"] for im in images if "_" not in im["image_id"]]
    assert {i: clusters.get(f"{i}_half") for i in originals} == {i: i for i in originals}
    assert sorted(r["image_id"] for r in rows if r["keeper"]) == originals
    assert all(r["match"] == "near" for r in rows if not r["keeper"])


def within_defaults(a: dict, b: dict) -> bool:
    p, d = hex_to_u64([a["phash"], b["phash"]]), hex_to_u64([a["dhash"], b["dhash"]])
    return hamming(p[0], p[1]) <= PHASH_DISTANCE and hamming(d[0], d[1]) <= DHASH_DISTANCE


def test_real_crops_found_with_their_original_only(real_images):
    images, crops = real_images
    rows = run(images + crops)
    clusters = {r["image_id"]: r["cluster_id"] for r in rows}
    found = {c["image_id"] for c in crops if clusters.get(c["image_id"])}
    for name in found:  # a crop found joins its own original, never another image
        assert clusters[name] == name.split("_")[0]
    original = {im["image_id"]: im for im in images}
    close = {c["image_id"] for c in crops
             if within_defaults(c, original[c["image_id"].split("_")[0]])}
    assert close <= found
    assert len(found) >= 2  # some crops do land within the defaults (2 of 12 here)
    assert len(set(clusters.values())) == 6  # the six originals stay apart


def test_exposure_copies_lose_to_the_original():
    """Within a cluster, a copy whose exposure was pulled down (shorter tonal range)
    or pushed up (more blown pixels: a shorter usable range) loses, even saved at a
    higher JPEG quality."""
    base = "0f0f0f0f0f0f0f0f"
    original = image("orig", base, size=(400, 300), nbytes=5000, jpeg_quality=85,
                     noise=1.2, lost_detail=0.01, tonal_range=240.0)
    darker = image("dark", base, size=(400, 300), nbytes=6000, jpeg_quality=95,
                   noise=0.4, lost_detail=0.01, tonal_range=130.0)
    brighter = image("lite", base, size=(400, 300), nbytes=7000, jpeg_quality=95,
                     noise=1.0, lost_detail=0.3, tonal_range=235.0)
    rows = {r["image_id"]: r for r in run([original, darker, brighter])}
    assert rows["orig"]["keeper"]
    assert rows["dark"]["keeper_reason"] == "tonal_range"
    assert rows["lite"]["keeper_reason"] == "tonal_range"
