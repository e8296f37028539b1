"""Dedupe: exact pair search, union-find, keeper rules, confirmation, and planted
duplicates among real (procedurally generated, encoded, inspected) images."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from irdata import synth
from irdata.dedupe import search
from irdata.dedupe.clusters import (
    DHASH_DISTANCE,
    PHASH_DISTANCE,
    choose_keepers,
    find_duplicates,
    union_find,
)
from irdata.dedupe.search import candidate_pairs, hamming, hex_to_u64, pairs_within
from irdata.imaging.inspect import inspect_bytes


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
    roots = np.array([0, 0, 0, 3, 3, 3, 6, 6])
    pixels = np.array([100, 400, 200, 50, 50, 40, 10, 10])
    nbytes = np.array([900, 10, 900, 20, 30, 99, 5, 5])
    keepers = choose_keepers(roots, pixels, nbytes)
    # most pixels wins over bytes; equal pixels: more bytes; all equal: lowest index
    assert keepers.tolist() == [1, 1, 1, 4, 4, 4, 6, 6]


# -- find_duplicates ---------------------------------------------------------------

def image(image_id, phash, dhash="0" * 16, sha=None, size=(100, 100), nbytes=1000):
    sha = sha or hashlib.sha256(image_id.encode()).hexdigest()
    return {"image_id": image_id, "sha256": sha,
            "phash": phash, "dhash": dhash, "width": size[0], "height": size[1],
            "nbytes": nbytes}


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
    rows = run([image("aa", base, nbytes=5000), image("cc", base, nbytes=9000)])
    assert [r["image_id"] for r in rows if r["keeper"]] == ["cc"]  # least compressed
    rows = run([image("bb", base), image("aa", base)])
    assert [r["image_id"] for r in rows if r["keeper"]] == ["aa"]  # smallest id


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


def test_output_does_not_depend_on_input_order():
    images = synthetic_images(600, seed=11)
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
    assert len(found) >= 4  # some crops do land within the defaults (7 of 12 here)
    assert len(set(clusters.values())) == 6  # the six originals stay apart
