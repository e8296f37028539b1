"""Networking: the guarded HTTP client used by fetch."""
