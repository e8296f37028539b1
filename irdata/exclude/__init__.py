"""Benchmark decontamination: evaluation images (exclusion sets) and their copies
or crops found in the sources, so that no evaluation image reaches the corpus."""
