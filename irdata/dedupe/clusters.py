"""Duplicate clusters: exact (sha256) and near (pHash candidate + dHash confirmation)
links, union-find, one keeper per cluster, and the clusters table.

Keeper: the cluster's best ground truth. Copies are filtered criterion by criterion
(`CRITERIA`): only those within the criterion's tolerance (`TOLERANCES`) of the best
remaining copy stay, so jitter between two equal copies never outranks the next
criterion; the last copy standing is kept. Order: not upscaled, most pixels, widest
usable tonal scale, most detail (sharpness - NOISE_PENALTY * noise), least noise,
highest JPEG quality, most bytes (late: noise makes JPEGs bigger), smallest image_id.
Null rules, and why this order: CALIBRATION.md ("Keeper rule"); the distance defaults
were measured there too.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from irdata.dedupe.search import grouped_pairs, hamming, hex_to_u64, pairs_within

PHASH_DISTANCE = 8
DHASH_DISTANCE = 9

# The keeper filter, in order (see the module docstring): criterion -> tolerance, on a
# cost where lower is better.
TOLERANCES = {"not_upscaled": 0.0, "resolution": 0.0, "tonal_range": 24.0, "detail": 1.5,
              "noise": 0.5, "jpeg_quality": 5.0, "bytes": 0.0}
NOISE_PENALTY = 6.0  # dB of sharpness per grey level of noise
CRITERIA = (*TOLERANCES, "image_id")
LOSSLESS_QUALITY = 100  # null jpeg_quality: PNG and other lossless formats

SCHEMA = pa.schema([
    ("image_id", pa.string()),
    ("cluster_id", pa.string()),  # the keeper's image_id
    ("keeper", pa.bool_()),
    ("dup_of", pa.string()),  # the keeper's image_id; null for the keeper
    ("match", pa.string()),  # exact (same sha256 as the keeper) or near; null for the keeper
    ("distance", pa.int8()),  # pHash Hamming distance to the keeper
    ("confirm_distance", pa.int8()),  # dHash Hamming distance to the keeper
    # The step of CRITERIA that decided: for a duplicate, the one that filtered it out;
    # for the keeper, the one that filtered out the last other copy.
    ("keeper_reason", pa.string()),
])


def union_find(n: int, pairs: np.ndarray) -> np.ndarray:
    """Root (the smallest index of its component) of each of n items after joining every pair:
    vectorised hook-and-compress, each root hooking onto its smallest linked root."""
    parent = np.arange(n)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    while True:
        parent = _compress(parent)
        a, b = parent[pairs[:, 0]], parent[pairs[:, 1]]
        split = a != b
        if not split.any():
            return parent
        pairs = pairs[split]
        np.minimum.at(parent, np.maximum(a[split], b[split]), np.minimum(a[split], b[split]))


def _compress(parent: np.ndarray) -> np.ndarray:
    """Point every item straight at its root (pointer jumping)."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def confirm(pairs: np.ndarray, dhashes: np.ndarray, dhash_distance: int):
    """(kept pairs, their dHash distances): the pHash candidates dHash confirms."""
    distance = hamming(dhashes[pairs[:, 0]], dhashes[pairs[:, 1]])
    ok = distance <= dhash_distance
    return pairs[ok], distance[ok]


def _figure(column, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64, null mask) of an optional figure: None, NaN, a None column."""
    values = np.full(n, np.nan) if column is None else np.array(column, dtype=np.float64)
    if len(values) != n:
        raise ValueError("all columns must have the same length")
    return values, np.isnan(values)


def costs(pixels: np.ndarray, nbytes: np.ndarray, upscaled=None, noise=None,
          jpeg_quality=None, sharpness=None, lost_detail=None,
          tonal_range=None) -> list[np.ndarray]:
    """One cost column per criterion of `TOLERANCES`, in order, lower = better. Optional
    figures: sequences with None or NaN for null, or None for a whole column of nulls."""
    n = len(pixels)
    up, _ = _figure(upscaled, n)
    tonal, no_tonal = _figure(tonal_range, n)
    lost, no_lost = _figure(lost_detail, n)
    sharp, no_sharp = _figure(sharpness, n)
    noisy, no_noise = _figure(noise, n)
    quality, lossless = _figure(jpeg_quality, n)
    noisy = np.where(no_noise, 0.0, noisy)
    usable = tonal - 255.0 * np.where(no_lost, 0.0, lost)
    return [
        np.where(np.isnan(up), 0.0, up != 0),
        -np.asarray(pixels, dtype=np.float64),
        np.where(no_tonal, np.inf, -usable),
        np.where(no_sharp, np.inf, NOISE_PENALTY * noisy - sharp),
        noisy,
        -np.where(lossless, LOSSLESS_QUALITY, quality),
        -np.asarray(nbytes, dtype=np.float64),
    ]


def choose(roots: np.ndarray, cost: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(keeper, deciding step as an index into CRITERIA) of every item: the keeper filter
    over each cluster (items sharing a root), one vectorised pass per criterion."""
    n = len(roots)
    keepers, step = np.arange(n), np.full(n, len(CRITERIA) - 1, dtype=np.int64)
    members = np.flatnonzero(np.bincount(roots, minlength=n)[roots] >= 2)
    if not len(members):
        return keepers, step
    order = members[np.lexsort((members, roots[members]))]  # by root, then index
    starts = np.flatnonzero(np.r_[True, roots[order][1:] != roots[order][:-1]])
    segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
    alive = np.ones(len(order), dtype=bool)
    out = np.full(len(order), len(CRITERIA) - 1, dtype=np.int64)
    for index, (values, tolerance) in enumerate(zip(cost, TOLERANCES.values(), strict=True)):
        mine = np.where(alive, values[order], np.inf)
        best = np.minimum.reduceat(mine, starts)[segment]
        beaten = alive & (mine > best + tolerance)
        out[beaten] = index
        alive &= ~beaten
    first_alive = np.minimum.reduceat(np.where(alive, np.arange(len(order)), len(order)),
                                      starts)
    keeper_of_segment = order[first_alive]
    keepers[order] = keeper_of_segment[segment]
    is_keeper = order == keepers[order]
    # the keeper's own step: the last step that filtered out another copy
    last = np.maximum.reduceat(np.where(is_keeper, -1, out), starts)
    out[is_keeper] = last[segment][is_keeper]
    step[order] = out
    return keepers, step



def _groups(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse) of items keyed by several columns, as np.unique gives them (groups in
    key order, `first` the lowest index), by a stable lexsort (faster than axis=0)."""
    order = np.lexsort(keys[::-1])
    new = np.zeros(len(order), dtype=bool)
    new[:1] = True
    for key in keys:
        ordered = key[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


def _same_value_links(first: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Link every item to the first of its group (`_groups`): a star, never all pairs."""
    members = np.flatnonzero(first[inverse] != np.arange(len(inverse)))
    return np.stack([first[inverse[members]], members], axis=1)


def _sha_columns(sha256) -> list[np.ndarray]:
    """64-hex sha256 strings -> four uint64 columns."""
    hexes = list(sha256)
    raw = bytes.fromhex("".join(hexes))
    if set(map(len, hexes)) - {64} or len(raw) != 32 * len(hexes):
        raise ValueError("every sha256 must be 64 hex digits")
    words = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
    return list(words.reshape(-1, 4).T)


def near_links(phash: np.ndarray, dhash: np.ndarray, phash_distance: int,
               dhash_distance: int) -> np.ndarray:
    """Confirmed near-duplicate links (index pairs). Equal (pHash, dHash) signatures link to
    their first; distinct ones are paired exactly by pHash (`grouped_pairs`), confirmed by
    dHash. A pHash value shared by more than GROUP_CAP signatures meets other values through
    its first signature only and is linked inside by a dHash-only search: never quadratic."""
    first, inverse = _groups(phash, dhash)
    same = _same_value_links(first, inverse)
    signature_p, signature_d = phash[first], dhash[first]
    candidates, big = grouped_pairs(signature_p, phash_distance)
    kept, _ = confirm(candidates, signature_d, dhash_distance)
    within = [group[pairs_within(signature_d[group], dhash_distance)] for group in big]
    return np.concatenate([same, first[kept]] + [first[w] for w in within])


def _sorted_inputs(image_id, sha256, phash, dhash, width, height, nbytes, figures=None):
    """Validated numpy columns in image_id order (so nothing depends on input order);
    `figures` (name -> column or None) become float64 columns, NaN = null."""
    columns = [list(c) for c in (image_id, sha256, phash, dhash, width, height, nbytes)]
    optional = {name: list(c) for name, c in (figures or {}).items() if c is not None}
    if len({len(c) for c in columns + list(optional.values())}) > 1:
        raise ValueError("all columns must have the same length")
    ids = np.asarray(columns[0], dtype=str)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if np.any(ids[1:] == ids[:-1]):
        raise ValueError("image_id values must be unique")
    sha = [column[order] for column in _sha_columns(columns[1])]
    p, d = hex_to_u64(columns[2])[order], hex_to_u64(columns[3])[order]
    width, height, size = (np.asarray(c, dtype=np.int64)[order] for c in columns[4:])
    optional = {name: _figure(c, len(ids))[0][order] for name, c in optional.items()}
    return ids, sha, p, d, width * height, size, optional


def find_duplicates(image_id, sha256, phash, dhash, width, height, nbytes,
                    phash_distance: int = PHASH_DISTANCE,
                    dhash_distance: int = DHASH_DISTANCE, *, upscaled=None, noise=None,
                    jpeg_quality=None, sharpness=None, lost_detail=None,
                    tonal_range=None) -> pa.Table:
    """The clusters table (`SCHEMA`) of every image in a cluster of two or more, sorted by
    cluster_id then image_id, whatever the input order.

    Equal-length sequences: image_id (unique), sha256 (64 hex), phash and dhash (16 hex),
    width, height, nbytes; optional keeper figures (lost_detail: the clipped + crushed share;
    None = null, a whole column None = all null). Equal sha256 merges ('exact'); a pHash
    pair within `phash_distance` merges if dHash confirms it. Clusters are connected
    components, so a member may sit beyond the thresholds from its keeper through a chain.
    `phash_distance < 0`: exact duplicates only."""
    figures = {"upscaled": upscaled, "noise": noise, "jpeg_quality": jpeg_quality,
               "sharpness": sharpness, "lost_detail": lost_detail, "tonal_range": tonal_range}
    ids, sha, p, d, pixels, size, figures = _sorted_inputs(
        image_id, sha256, phash, dhash, width, height, nbytes, figures)
    links = [np.empty((0, 2), dtype=np.int64), _same_value_links(*_groups(*sha))]
    if phash_distance >= 0:
        links.append(near_links(p, d, phash_distance, dhash_distance))
    cost = costs(pixels, size, **figures)
    keepers, step = choose(union_find(len(ids), np.concatenate(links)), cost)
    return _table(ids, keepers, step, sha, p, d)


def _table(ids: np.ndarray, keepers: np.ndarray, step: np.ndarray, sha, p, d) -> pa.Table:
    """Rows of clusters with two or more members, sorted by (cluster_id, image_id)."""
    sizes = np.bincount(keepers, minlength=len(ids))
    rows = np.flatnonzero(sizes[keepers] >= 2)
    rows = rows[np.lexsort((rows, keepers[rows]))]  # index order == image_id order
    keeper_rows = keepers[rows]
    is_keeper = rows == keeper_rows
    cluster = ids[keeper_rows]
    exact = np.all([column[rows] == column[keeper_rows] for column in sha], axis=0)
    match = np.where(is_keeper, None, np.where(exact, "exact", "near")).astype(object)
    return pa.table({
        "image_id": ids[rows].tolist(),
        "cluster_id": cluster.tolist(),
        "keeper": is_keeper,
        "dup_of": np.where(is_keeper, None, cluster.astype(object)).tolist(),
        "match": match.tolist(),
        "distance": hamming(p[rows], p[keeper_rows]).astype(np.int8),
        "confirm_distance": hamming(d[rows], d[keeper_rows]).astype(np.int8),
        "keeper_reason": np.asarray(CRITERIA, dtype=object)[step[rows]].tolist(),
    }, schema=SCHEMA)
