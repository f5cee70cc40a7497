"""Benchmark of the SFU worker against aiortc's decode/re-encode relay: see docs/performance.md."""
