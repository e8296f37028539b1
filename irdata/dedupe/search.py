"""Every pair of 64-bit hashes within a Hamming radius, exactly: multi-index hashing.

The 64 bits are cut into m bands; with r = s*m + a (0 <= a < m), a pair within r has one
of the first a+1 bands within s bits or one of the others within s-1 (pigeonhole). Each
band's direct-address bucket table is probed with every flip mask of its radius, all
hashes at once, and candidates are checked on all 64 bits. Details: CALIBRATION.md.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

MAX_BAND_BITS = 22  # a bucket table has 2^bits entries (4M x 8 bytes x 2 at most)
GROUP_CAP = 64  # grouped_pairs expands groups of equal values up to this size
PASSES = 4  # bucket members checked one pass each before the rest is expanded


def hex_to_u64(hexes) -> np.ndarray:
    """16-hex-digit strings -> uint64 array (vectorised through one bytes.fromhex)."""
    hexes = list(hexes)
    raw = bytes.fromhex("".join(hexes))  # ValueError on a non-hex digit
    if set(map(len, hexes)) - {16} or len(raw) != 8 * len(hexes):
        raise ValueError("every hash must be 16 hex digits")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


def popcount(x: np.ndarray) -> np.ndarray:
    """Bits set in each uint64 (numpy >= 2 has it built in; else a byte table)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    table = np.array([bin(b).count("1") for b in range(256)], dtype=np.uint8)
    return table[x.view(np.uint8).reshape(*x.shape, 8)].sum(axis=-1, dtype=np.uint8)


def hamming(a, b) -> np.ndarray:
    """Element-wise Hamming distance of uint64 arrays (popcount of a ^ b)."""
    x = np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    return popcount(np.asarray(x)).astype(np.int64)


def _band_sizes(m: int) -> list[int]:
    return [64 // m + (1 if k < 64 % m else 0) for k in range(m)]


def _band_radii(radius: int, m: int) -> list[int]:
    """Generalised pigeonhole: bands 0..a search radius s, the rest s - 1 (-1: skip)."""
    s, a = divmod(radius, m)
    return [s if k <= a else s - 1 for k in range(m)]


def _masks(bits: int, radius: int) -> np.ndarray:
    """Every value of `bits` bits with at most `radius` bits set."""
    masks = [sum(1 << b for b in combo) for r in range(radius + 1)
             for combo in combinations(range(bits), r)]
    return np.sort(np.array(masks, dtype=np.int64))


def _mask_count(bits: int, radius: int) -> int:
    from math import comb
    return sum(comb(bits, r) for r in range(radius + 1))


def choose_bands(n: int, radius: int) -> int:
    """Number of bands with the least estimated work, in units of one element of a numpy pass:
    a probe costs a fixed 30,000 (call overhead), n/2 queries and n * n / 2^bits candidates
    (two units each); a band's table 0.3 per bucket."""
    best, best_cost = 0, float("inf")
    for m in range(-(-64 // MAX_BAND_BITS), 17):
        cost = sum(0.3 * 2 ** b + _mask_count(b, r) * (30_000 + n / 2 + n * n / 2 ** b)
                   for b, r in zip(_band_sizes(m), _band_radii(radius, m), strict=True)
                   if r >= 0)
        if cost < best_cost:
            best, best_cost = m, cost
    return best


class _Band:
    """Direct-address bucket table of one band, hashes in band-value order (cache friendly)."""

    def __init__(self, values: np.ndarray, shift: int, bits: int):
        keys = ((values >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int32)
        self.order = np.argsort(keys, kind="stable").astype(np.int64)
        self.keys, self.values = keys[self.order], values[self.order]
        counts = np.bincount(self.keys, minlength=1 << bits)
        # bucket v holds positions bounds[v] .. bounds[v + 1] - 1
        self.bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)

    def queries(self, top_bit: int) -> np.ndarray:
        """Positions whose band value has `top_bit` clear (-1: all positions).
        A pair of buckets differing by a mask is then probed from one side only."""
        if top_bit < 0:
            return np.arange(len(self.keys), dtype=np.int32)
        return np.flatnonzero((self.keys & (1 << top_bit)) == 0).astype(np.int32)

    def probe(self, where: np.ndarray, keys: np.ndarray, values: np.ndarray, mask: int,
              radius: int) -> np.ndarray:
        """Original index pairs (i, j), i != j, within `radius`, band(j) = band(i) ^ mask, i at
        positions `where` (band values `keys`, hashes `values`). The k-th member of every probed
        bucket is checked in one pass per k; crowded buckets left after PASSES are expanded."""
        wanted = keys ^ np.int32(mask)
        first, end = self.bounds[wanted], self.bounds[wanted + 1]
        hit = np.flatnonzero(end > first)
        first, end, qi, qv = first[hit], end[hit], where[hit], values[hit]
        found = [np.empty((0, 2), dtype=np.int64)]
        for _ in range(PASSES):
            if not len(first):
                break
            found.append(self._near(qi, qv, first, mask, radius))
            first += 1
            more = np.flatnonzero(first < end)
            first, end, qi, qv = first[more], end[more], qi[more], qv[more]
        if len(first):
            counts = end - first
            starts = np.repeat(first - (np.cumsum(counts) - counts), counts)
            pj = (starts + np.arange(counts.sum())).astype(np.int32)
            found.append(self._near(np.repeat(qi, counts), np.repeat(qv, counts), pj, mask,
                                    radius))
        return np.concatenate(found)

    def _near(self, qi: np.ndarray, qv: np.ndarray, pj: np.ndarray, mask: int,
              radius: int) -> np.ndarray:
        """The pairs (query position qi with hash qv, position pj) within `radius`."""
        near = popcount(qv ^ self.values[pj]) <= radius
        if mask == 0:  # both in one bucket: each pair once, never with itself
            near &= qi < pj
        return np.stack([self.order[qi[near]], self.order[pj[near]]], axis=1)


def _band_pairs(values: np.ndarray, shift: int, bits: int, band_radius: int,
                radius: int) -> list[np.ndarray]:
    band, found, top = _Band(values, shift, bits), [], None
    for mask in _masks(bits, band_radius):  # ascending, so grouped by top bit
        mask = int(mask)
        if mask.bit_length() - 1 != top:
            top = mask.bit_length() - 1
            where = band.queries(top)
            keys, hashes = band.keys[where], band.values[where]
        found.append(band.probe(where, keys, hashes, mask, radius))
    return found


def pairs_within(values: np.ndarray, radius: int) -> np.ndarray:
    """All index pairs (i < j) of `values` (uint64) within `radius`, sorted; exact, but
    quadratic in a group of repeated values (use `candidate_pairs` or `grouped_pairs`)."""
    values = np.asarray(values, dtype=np.uint64)
    n = len(values)
    if n < 2 or radius < 0:
        return np.empty((0, 2), dtype=np.int64)
    m = choose_bands(n, radius)
    found, shift = [np.empty((0, 2), dtype=np.int64)], 0
    for bits, band_radius in zip(_band_sizes(m), _band_radii(radius, m), strict=True):
        if band_radius >= 0:
            found += _band_pairs(values, shift, bits, band_radius, radius)
        shift += bits
    pairs = np.sort(np.concatenate(found), axis=1)
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])  # a pair may match in several bands
    return np.stack([codes // n, codes % n], axis=1)


def candidate_pairs(hashes: np.ndarray, radius: int) -> np.ndarray:
    """Index pairs (i < j) of hashes within `radius`, shape (k, 2), sorted, searched over
    unique values: repeats link to their group's first index, near values pair the groups'
    first indices. Brute force's pairs for distinct values; with repeats its connected
    components in O(n) pairs. A negative radius gives only the equal-value links."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    values, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    members = np.flatnonzero(first[inverse] != np.arange(len(hashes)))
    same = np.stack([first[inverse[members]], members], axis=1)
    near = first[pairs_within(values, radius)] if radius >= 0 else same[:0]
    pairs = np.concatenate([same, np.sort(near, axis=1)]).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]



def _product(start_a, count_a, start_b, count_b, same):
    """Every (a + x, b + y), x < count_a, y < count_b, for each row; x < y where same."""
    sizes = count_a * count_b
    row = np.repeat(np.arange(len(sizes)), sizes)
    local = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    x, y = local // count_b[row], local % count_b[row]
    keep = ~same[row] | (x < y)
    return np.stack([start_a[row] + x, start_b[row] + y], axis=1)[keep]


def grouped_pairs(hashes: np.ndarray, radius: int, cap: int = GROUP_CAP):
    """(pairs, big): index pairs (i < j) within `radius`, exact like brute force except for
    values held by more than `cap` items, which pair with other values through their first
    index only and not within themselves; `big` lists those groups' indices for the caller
    to link. Cost: one search over unique values plus at most cap^2 pairs per value pair."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    values, start, count = np.unique(hashes[order], return_index=True, return_counts=True)
    small = count <= cap
    repeated = np.flatnonzero(small & (count > 1))
    value_pairs = np.concatenate([pairs_within(values, radius),
                                  np.stack([repeated, repeated], axis=1)])
    a, b = value_pairs[:, 0], value_pairs[:, 1]
    width = np.where(small, count, 1)
    found = order[_product(start[a], width[a], start[b], width[b], a == b)]
    big = [order[start[g]:start[g] + count[g]] for g in np.flatnonzero(~small)]
    return np.sort(found, axis=1), big
