"""Duplicate clusters: exact (sha256) and near (pHash candidate + dHash confirmation)
links, union-find, one keeper per cluster, and the clusters table.

Defaults (chosen by measurement, see CALIBRATION.md): `PHASH_DISTANCE`,
`DHASH_DISTANCE`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from irdata.dedupe.search import grouped_pairs, hamming, hex_to_u64, pairs_within

PHASH_DISTANCE = 8
DHASH_DISTANCE = 9

SCHEMA = pa.schema([
    ("image_id", pa.string()),
    ("cluster_id", pa.string()),  # the keeper's image_id
    ("keeper", pa.bool_()),
    ("dup_of", pa.string()),  # the keeper's image_id; null for the keeper
    ("match", pa.string()),  # exact (same sha256 as the keeper) or near; null for the keeper
    ("distance", pa.int8()),  # pHash Hamming distance to the keeper
    ("confirm_distance", pa.int8()),  # dHash Hamming distance to the keeper
])


def union_find(n: int, pairs: np.ndarray) -> np.ndarray:
    """Root of each of n items after joining every pair: the smallest index of its
    component. Vectorised hook-and-compress: each round every root hooks onto the
    smallest root it is linked to (parent[x] <= x always); O(log n) rounds."""
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
    """(kept pairs, their dHash distances): a pHash candidate pair is merged only
    if the independent dHash agrees, within `dhash_distance`."""
    distance = hamming(dhashes[pairs[:, 0]], dhashes[pairs[:, 1]])
    ok = distance <= dhash_distance
    return pairs[ok], distance[ok]


def choose_keepers(roots: np.ndarray, pixels: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Keeper index for every item: in its cluster, most pixels, then most bytes
    (at equal pixels: most bytes per pixel, the least compressed), then lowest
    index (items are in image_id order, so: smallest image_id)."""
    index = np.arange(len(roots))
    order = np.lexsort((index, -nbytes, -pixels, roots))
    first = np.ones(len(order), dtype=bool)
    first[1:] = roots[order][1:] != roots[order][:-1]
    keeper_of_root = np.empty(len(roots), dtype=np.int64)
    keeper_of_root[roots[order][first]] = order[first]
    return keeper_of_root[roots]


def _groups(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse) of items keyed by several columns, as np.unique gives them:
    groups in key order, `first` the lowest index holding each key (lexsort is
    stable, and much faster than np.unique(axis=0))."""
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
    """Link every item to the first item of its group (`_groups`): a star per
    group, never all pairs."""
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
    """Confirmed near-duplicate links between items (index pairs).

    Items with the same (pHash, dHash) signature are linked to the first of them
    (distance 0 on both). Distinct signatures are paired by pHash with
    `grouped_pairs`, exactly, and each pair is confirmed by dHash. The one
    approximation: a pHash value shared by more than GROUP_CAP signatures (e.g.
    thousands of near-blank frames) meets other values through its first
    signature only; within it, signatures are linked by a dHash-only search
    (their pHash distance is 0), so it never costs quadratic time."""
    first, inverse = _groups(phash, dhash)
    same = _same_value_links(first, inverse)
    signature_p, signature_d = phash[first], dhash[first]
    candidates, big = grouped_pairs(signature_p, phash_distance)
    kept, _ = confirm(candidates, signature_d, dhash_distance)
    within = [group[pairs_within(signature_d[group], dhash_distance)] for group in big]
    return np.concatenate([same, first[kept]] + [first[w] for w in within])


def _sorted_inputs(image_id, sha256, phash, dhash, width, height, nbytes):
    """Validated numpy columns in image_id order (so nothing depends on input order)."""
    columns = [list(c) for c in (image_id, sha256, phash, dhash, width, height, nbytes)]
    if len({len(c) for c in columns}) > 1:
        raise ValueError("all columns must have the same length")
    ids = np.asarray(columns[0], dtype=str)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if np.any(ids[1:] == ids[:-1]):
        raise ValueError("image_id values must be unique")
    sha = [column[order] for column in _sha_columns(columns[1])]
    p, d = hex_to_u64(columns[2])[order], hex_to_u64(columns[3])[order]
    width, height, size = (np.asarray(c, dtype=np.int64)[order] for c in columns[4:])
    return ids, sha, p, d, width * height, size


def find_duplicates(image_id, sha256, phash, dhash, width, height, nbytes,
                    phash_distance: int = PHASH_DISTANCE,
                    dhash_distance: int = DHASH_DISTANCE) -> pa.Table:
    """The clusters table (`SCHEMA`) of every image in a cluster of two or more,
    sorted by cluster_id then image_id; the same whatever the input order.

    Equal-length sequences in: image_id (unique strings), sha256 (64 hex),
    phash and dhash (16 hex), width, height, nbytes. Equal sha256 always
    merges (match 'exact'); a pHash pair within `phash_distance` merges only if
    its dHash distance is within `dhash_distance`. Clusters are the connected
    components (union-find), so a member may sit further than the thresholds
    from its keeper through a chain; `distance` and `confirm_distance` are the
    pHash and dHash distances to the keeper (0 for the keeper itself).
    `phash_distance < 0` turns near-duplicate search off (exact only)."""
    ids, sha, p, d, pixels, size = _sorted_inputs(image_id, sha256, phash, dhash,
                                                  width, height, nbytes)
    links = [np.empty((0, 2), dtype=np.int64), _same_value_links(*_groups(*sha))]
    if phash_distance >= 0:
        links.append(near_links(p, d, phash_distance, dhash_distance))
    keepers = choose_keepers(union_find(len(ids), np.concatenate(links)), pixels, size)
    return _table(ids, keepers, sha, p, d)


def _table(ids: np.ndarray, keepers: np.ndarray, sha, p, d) -> pa.Table:
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
    }, schema=SCHEMA)
