"""Exact and near-duplicate detection over 64-bit perceptual hashes.

`search` finds every pair of hashes within a Hamming radius (multi-index
hashing, exact and sub-quadratic); `clusters` confirms pHash candidates with
dHash, joins them by union-find and picks one keeper per cluster
(`find_duplicates`). Pure numpy: hashes in, a clusters table out; no files,
no Dask. Calibration and measurements: CALIBRATION.md beside this file.
"""
