"""A module next to eq_uses_sibling.py, imported by it (not run by itself)."""


def greet(name):
    return f"hello, {name}"
