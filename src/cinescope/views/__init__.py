"""Terminal views of a recording: timeline, history, messages, stack, why,
and the interactive stepper `replay`. Each prints rich tables and trees, or
with --json one JSON object per line (docs/json.md gives the shapes).

    commands.py  the one-question views
    replay.py    the stepper
    render.py    what each shows (rows, trees, the cursor's position)
    console.py   the rich console, values as text, tables that stream
"""
from __future__ import annotations

from .commands import cmd_history, cmd_messages, cmd_stack, cmd_timeline, cmd_why
from .replay import REPLAY_HELP, cmd_replay

COMMANDS = {"timeline": cmd_timeline, "history": cmd_history, "messages": cmd_messages,
            "stack": cmd_stack, "why": cmd_why, "replay": cmd_replay}

__all__ = ["COMMANDS", "REPLAY_HELP", "cmd_history", "cmd_messages", "cmd_replay",
           "cmd_stack", "cmd_timeline", "cmd_why"]
