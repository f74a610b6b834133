"""The C hot path (src/cinescope/capture/_hot.c), the value encoder
(src/cinescope/capture/_values.c) and the chunk assembler
(src/cinescope/store/_chunks.c). Everything else is in
pyproject.toml. `optional`: without a compiler, the pure-Python backend runs."""
from setuptools import Extension, setup

setup(ext_modules=[
    Extension("cinescope.capture._hot", ["src/cinescope/capture/_hot.c"],
              extra_compile_args=["-O2", "-Wall"], optional=True),
    Extension("cinescope.capture._values", ["src/cinescope/capture/_values.c"],
              extra_compile_args=["-O2", "-Wall"], optional=True),
    Extension("cinescope.store._chunks", ["src/cinescope/store/_chunks.c"],
              extra_compile_args=["-O2", "-Wall"], optional=True),
])
