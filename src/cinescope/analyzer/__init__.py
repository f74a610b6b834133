"""What deserves recording, and what a recording points at.

The analyzer reads a project's code with `ast` (it never imports or runs user
code) and suggests plan targets, each with a reason; on a recording it finds
anomalies. It sits beside replay: it may read the store, never the servers.
"""
