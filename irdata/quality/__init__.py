"""Quality figures and source gates, pure functions over numpy arrays.

working.py sets the working resolution; jpeg_quality.py fits JPEG quality to the
quantisation tables; spectrum.py, periodic.py, noise.py, exposure.py and graphics.py
give one figure family each; gates.py summarises, measures and judges a source.
Per-cell figures and verdict: irdata.patching.figures. Calibration: CALIBRATION.md.
"""
