"""The demo: generated photos served over loopback HTTP and built into a small corpus."""
