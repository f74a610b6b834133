"""A tiny bank used as a Cinescope demo: threads, asyncio and a child process."""
