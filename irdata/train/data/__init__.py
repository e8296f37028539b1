"""Training data: shard specs, deterministic streams of (lq, gt) batches, one maker per task."""
