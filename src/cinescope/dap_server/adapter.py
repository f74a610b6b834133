"""`python adapter.py`: `cinescope dap` on stdio, for editors that run a
debug adapter as a Python script (VS Code's `debugAdapterPath`)."""
import sys

if __name__ == "__main__":
    del sys.path[0]     # this directory: its modules are not top-level ones
    from cinescope.cli import main
    sys.exit(main(["dap", *sys.argv[1:]]))
