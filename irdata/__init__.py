"""irdata: reproducible Million-IRD-style image-restoration corpora."""

__version__ = "0.1.0"
