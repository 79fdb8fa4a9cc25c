"""The optional C speedups of dlp (src/dlp/_speedups.c); everything else is in pyproject.toml.

The extension is built where a C compiler and Python's headers are at hand (`optional`: a
failed build is a warning, not a failed install), and dlp runs its NumPy code without it.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dlp._speedups", ["src/dlp/_speedups.c"], optional=True)])
