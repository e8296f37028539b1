"""Exact and near-duplicate detection over 64-bit perceptual hashes, pure numpy: `search`
finds every pair within a Hamming radius (multi-index hashing), `clusters` confirms pHash
candidates by dHash, joins them and picks keepers. Calibration: CALIBRATION.md."""
