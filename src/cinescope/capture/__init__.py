"""Capture: what runs under the plan becomes records on per-thread buffers.

The lowest layer: it imports nothing else of Cinescope. See recorder.py.
"""
