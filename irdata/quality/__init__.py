"""Source quality figures and gates (issue 4), pure functions over numpy arrays.

- working.py: the fixed working resolution every figure is measured at;
- jpeg_quality.py: JPEG quality fitted to the quantisation tables (no decode);
- sharpness.py, noise.py, exposure.py, graphics.py: one figure family each;
- gates.py: `measure` (all figures) and `judge` (figures + settings -> reason).

Calibration of the defaults: CALIBRATION.md (benchmarks/quality_calibration.py).
"""
