"""`cinescope dap`: a Debug Adapter Protocol server around debugpy that
records the program and shows its history at every stop (see server.py)."""
