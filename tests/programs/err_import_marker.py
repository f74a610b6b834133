"""A module that says so when it is imported or run: checking a plan's targets
must never import it."""
import os

marker = os.environ.get("ERR_IMPORT_MARKER")
if marker:
    with open(marker, "a") as fh:
        fh.write(f"imported as {__name__}\n")
print(f"err_import_marker ran as {__name__}")


def present():
    return 1
