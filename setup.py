"""The C hot path (src/cinescope/capture/_hot.c). Everything else is in
pyproject.toml. `optional`: without a compiler, the pure-Python backend runs."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("cinescope.capture._hot", ["src/cinescope/capture/_hot.c"],
                             extra_compile_args=["-O2", "-Wall"], optional=True)])
