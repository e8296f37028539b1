"""Quality figures and source gates, pure functions over numpy arrays.

- working.py: the working resolution of the whole-image figures and hashes;
- jpeg_quality.py: JPEG quality fitted to the quantisation tables (no decode);
- spectrum.py (sharpness), periodic.py (upscaling periodicity, JPEG blockiness),
  noise.py, exposure.py, graphics.py: one figure family each, per cell or per image;
- gates.py: `summarise` (cell figures -> source), `measure` (all source figures)
  and `judge` (figures + settings -> reason). The per-cell figures and verdict:
  irdata.patching.figures.

Calibration of the defaults: CALIBRATION.md (benchmarks/quality_calibration.py).
"""
