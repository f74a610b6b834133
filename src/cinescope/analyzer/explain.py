"""An optional language model that explains an anomaly, or a stretch of a
timeline, in words. Off by default: nothing is sent anywhere unless an
endpoint is configured.

Configuration (the environment wins over the plan file's [explain]):

| setting | environment | plan `[explain]` |
|---|---|---|
| endpoint: an OpenAI-compatible base URL (`.../v1`) or a full `.../chat/completions` URL | `CINESCOPE_LLM_URL` | `url` |
| model name | `CINESCOPE_LLM_MODEL` | `model` |
| API key (sent as `Authorization: Bearer`; optional for local servers) | `CINESCOPE_LLM_KEY` | `key_env`: the name of the variable that holds it |
| seconds to wait for an answer (default 60) | `CINESCOPE_LLM_TIMEOUT` | `timeout` |

What is sent: one chat-completions request with a system message (what
Cinescope is, answer briefly) and a user message made of the anomaly (its
kind, message, place and details) and a bounded timeline around it (at most
`WINDOW` events before and after its first event, in that actor, one line
each). Values in it were redacted when recorded; the text is redacted again
here: every value under a secret name (the plan's redaction names, README
"Secrets and safety") and every `name=value` / `name: value` whose name is
secret, wherever it appears (an exception's message, a repr). The key is
never printed, logged, or put into an error message.
"""
from __future__ import annotations

import json
import os
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from ..capture.plan import DEFAULT_REDACT
from ..capture.values import redaction_pattern

WINDOW = 12                     # events before and after the anomaly's first event
MAX_TIMELINE = 400              # events of a timeline at most
MAX_LINE = 300                  # characters of one event line at most
DEFAULT_TIMEOUT = 60.0
REDACTED_TEXT = "<redacted>"
SYSTEM = ("You explain what happened in a recorded run of a Python program, for the "
          "developer who wrote it. The recording was made by Cinescope, an execution "
          "recorder; events are calls, returns, raises, state changes (old -> new), and "
          "messages between threads, tasks and processes. Answer in a few sentences: what "
          "probably happened, why, and what to look at in the code. Values shown as "
          "<redacted> are secrets that were not recorded; do not guess them.")
NOT_CONFIGURED = ("no language model is configured, so nothing was sent: set "
                  "CINESCOPE_LLM_URL (an OpenAI-compatible endpoint, e.g. "
                  "http://127.0.0.1:8080/v1) and CINESCOPE_LLM_MODEL, and CINESCOPE_LLM_KEY "
                  "if it needs a key; or add an [explain] section with url and model (and "
                  "key_env) to the plan file (docs/anomalies.md)")


class ExplainError(Exception):
    """The explanation could not be had; the message says why and what to do."""


@dataclass(frozen=True)
class ExplainConfig:
    url: str
    model: str
    key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else url + "/chat/completions"


def explain_config(plan=None, env=None) -> ExplainConfig | None:
    """The configuration from the environment and the plan's [explain], or
    None when no endpoint is configured (then nothing may be sent)."""
    env = os.environ if env is None else env
    table = dict(getattr(plan, "explain", None) or {})
    url = env.get("CINESCOPE_LLM_URL") or table.get("url")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ExplainError(f"the language-model URL must start with http:// or https://, "
                           f"not {url!r}")
    model = env.get("CINESCOPE_LLM_MODEL") or table.get("model")
    if not model:
        raise ExplainError("a language-model URL is configured but no model: set "
                           "CINESCOPE_LLM_MODEL or model in the plan's [explain]")
    key = env.get("CINESCOPE_LLM_KEY") or (env.get(table["key_env"]) if table.get("key_env")
                                           else None)
    if table.get("key_env") and not key and not env.get("CINESCOPE_LLM_KEY"):
        raise ExplainError(f"the plan's [explain] key_env names {table['key_env']}, which is "
                           "not set in the environment")
    timeout = env.get("CINESCOPE_LLM_TIMEOUT") or table.get("timeout") or DEFAULT_TIMEOUT
    try:
        timeout = float(timeout)
    except ValueError:
        raise ExplainError(f"CINESCOPE_LLM_TIMEOUT must be a number of seconds, "
                           f"not {timeout!r}") from None
    return ExplainConfig(url, model, key or None, timeout)


# -- redaction ----------------------------------------------------------------------------
class Redactor:
    """Redacts secret-named values in recorded data, then in text."""

    def __init__(self, names=DEFAULT_REDACT):
        self.names = tuple(dict.fromkeys(tuple(DEFAULT_REDACT) + tuple(names)))
        self.pattern = redaction_pattern(self.names)
        name = r"[A-Za-z_][\w-]*" if self.pattern is None else \
            r"[\w-]*(?:" + self.pattern.pattern + r")[\w-]*"
        # NAME = value, NAME: value, "NAME": value, 'NAME'=value, NAME value (a header)
        self.text_pattern = re.compile(
            r"(?P<name>[\"']?\b" + name + r"\b[\"']?)(?P<sep>\s*[=:]\s*|\s+(?=bearer\b|basic\b))"
            r"(?P<value>\"[^\"]*\"|'[^']*'|(?:bearer|basic)\s+\S+|[^\s,;)\]}]+)",
            re.IGNORECASE)

    def secret(self, name: object) -> bool:
        return isinstance(name, str) and self.pattern is not None and \
            self.pattern.search(name) is not None

    def data(self, value):
        """Recorded data with every value under a secret name replaced."""
        if isinstance(value, dict):
            if value.get("type") == "dict" and isinstance(value.get("items"), list):
                items = []
                for pair in value["items"]:
                    if isinstance(pair, list) and len(pair) == 2:
                        items.append([pair[0], {"redacted": True} if self.secret(pair[0])
                                      else self.data(pair[1])])
                    else:
                        items.append(self.data(pair))
                return dict(value, items=items)
            return {k: {"redacted": True} if self.secret(k) else self.data(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value

    def text(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.text_pattern.sub(lambda m: m["name"] + m["sep"] + REDACTED_TEXT, text)


def value_text(value, width: int = 120) -> str:
    """A recorded value as short text (redacted values as <redacted>)."""
    text = _value_text(value, 3)
    return text if len(text) <= width else text[:width - 3] + "..."


def _value_text(value, depth: int) -> str:
    if not isinstance(value, dict):
        return repr(value)
    if value.get("redacted"):
        return REDACTED_TEXT
    if value.get("missing"):
        return "(unset)"
    if "repr" in value and value.get("type") != "int":
        return str(value["repr"])
    kind = value.get("type", "?")
    if kind == "int" and "repr" in value:
        return str(value["repr"])
    if isinstance(value.get("items"), list) and depth > 0:
        parts = [f"{_value_text(p[0], depth - 1)}: {_value_text(p[1], depth - 1)}"
                 if kind == "dict" and isinstance(p, list) and len(p) == 2
                 else _value_text(p, depth - 1) for p in value["items"][:10]]
        more = ", ..." if len(value["items"]) > 10 or "len" in value else ""
        return f"{kind}({', '.join(parts)}{more})"
    if kind == "str" and "value" in value:
        return f"{value['value']!r}... ({value.get('len')} chars)"
    return f"<{kind}>"


# -- what is sent -------------------------------------------------------------------------
def event_line(e: dict, redactor: Redactor) -> str:
    loc = e.get("location") or {}
    where = f"{loc.get('function') or '?'} ({os.path.basename(loc.get('file') or '?')}:" \
            f"{loc.get('line')})" if loc else ""
    data = redactor.data(e.get("data") or {})
    kind = e["kind"]
    if kind == "call":
        detail = ", ".join(f"{k}={value_text(v, 60)}" for k, v in (data.get("args") or {}).items())
    elif kind == "return":
        detail = f"-> {value_text(data.get('value'), 80)}"
    elif kind == "raise":
        exc = data.get("exception") or {}
        detail = f"{exc.get('type', '?')}: {exc.get('message', '')}"
    elif kind == "state":
        detail = ", ".join(f"{a}: {value_text(c.get('old', {'missing': True}), 40)} -> "
                           f"{value_text(c.get('new'), 40)}"
                           for a, c in (data.get("changes") or {}).items())
        detail = f"{data.get('method') or 'outside its methods'}: {detail}"
    elif kind in ("send", "receive"):
        detail = f"message {e.get('message')} on #{e.get('object')}: " \
                 f"{value_text(data.get('value'), 80)}"
    else:
        detail = ", ".join(f"{k}={value_text(v, 40)}" for k, v in data.items())
    line = f"#{e['id']} t={e['t']:.6f}s [{e.get('actor_name')}] {kind} {where} {detail}"
    return redactor.text(line[:MAX_LINE])


def _redactor_for(history) -> Redactor:
    plan = history.store.session(history.session).get("plan") or {}
    return Redactor(plan.get("redact") or DEFAULT_REDACT)


def anomaly_prompt(history, anomaly, window: int = WINDOW) -> list[dict]:
    """The chat messages that explain one anomaly: it, and the events around
    its first event in that actor (at most `window` before and after)."""
    redactor = _redactor_for(history)
    lines = [f"Anomaly: {anomaly.kind} ({anomaly.severity})",
             f"Message: {anomaly.message}",
             f"Where: {os.path.basename(anomaly.file or '?')}:{anomaly.line}",
             f"Details: {json.dumps(redactor.data(anomaly.details), default=str)[:2000]}"]
    if anomaly.events:
        at = history.event(anomaly.events[0])
        before = history.recent(at["actor"], window, before=at)
        after, cursor = [], at
        while len(after) < window:
            cursor = history.step(at["actor"], cursor, True)
            if cursor is None:
                break
            after.append(cursor)
        lines.append(f"Events of {at['actor_name']} around it (the anomaly's is marked >>):")
        for e in before + [at] + after:
            lines.append((">> " if e["id"] == at["id"] else "   ") + event_line(e, redactor))
        for other in anomaly.events[1:4]:
            lines.append("Also: " + event_line(history.event(other), redactor))
    text = redactor.text("\n".join(lines))
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Explain this anomaly found in the recording.\n\n"
             + text}]


def timeline_prompt(history, actor, t0: float | None = None, t1: float | None = None,
                    limit: int = MAX_TIMELINE) -> list[dict]:
    """The chat messages that explain what one actor did between t0 and t1."""
    redactor = _redactor_for(history)
    events = history.timeline(actor, t0, t1)
    cut = len(events) > limit
    events = events[:limit]
    lines = [event_line(e, redactor) for e in events]
    if cut:
        lines.append(f"(the first {limit} events only)")
    name = events[0]["actor_name"] if events else actor
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Explain what {name} did in this part of the "
             "recording.\n\n" + redactor.text("\n".join(lines))}]


# -- sending ------------------------------------------------------------------------------
def chat(config: ExplainConfig | None, messages: list[dict]) -> str:
    """One chat-completions request; the answer's text. Sends nothing when
    `config` is None."""
    if config is None:
        raise ExplainError(NOT_CONFIGURED)
    body = json.dumps({"model": config.model, "messages": messages,
                       "temperature": 0.2}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "User-Agent": "cinescope"}
    if config.key:
        headers["Authorization"] = f"Bearer {config.key}"
    request = urllib.request.Request(config.endpoint, data=body, headers=headers,
                                     method="POST")
    where = config.endpoint
    try:
        with urllib.request.urlopen(request, timeout=config.timeout) as response:
            raw = response.read(4 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        detail = _hide(exc.read(500).decode("utf-8", "replace").strip(), config)
        raise ExplainError(f"the language model at {where} answered HTTP {exc.code} "
                           f"{exc.reason}" + (f": {detail}" if detail else "")) from None
    except (TimeoutError, socket.timeout):
        raise ExplainError(f"the language model at {where} did not answer within "
                           f"{config.timeout:g} s (set CINESCOPE_LLM_TIMEOUT or [explain] "
                           "timeout to wait longer)") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise ExplainError(f"the language model at {where} did not answer within "
                               f"{config.timeout:g} s") from None
        raise ExplainError(f"the language model at {where} cannot be reached "
                           f"({exc.reason})") from None
    except OSError as exc:
        raise ExplainError(f"the language model at {where} cannot be reached ({exc})") \
            from None
    try:
        answer = json.loads(raw)
        text = answer["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ExplainError(f"the language model at {where} did not answer in the "
                           "chat-completions shape (choices[0].message.content)") from None
    if not isinstance(text, str):
        raise ExplainError(f"the language model at {where} answered no text")
    return text.strip()


def _hide(text: str, config: ExplainConfig) -> str:
    return text.replace(config.key, REDACTED_TEXT) if config.key else text


def explain_anomaly(history, anomaly, *, plan=None, config: ExplainConfig | None = None,
                    env=None) -> str:
    """An explanation of one anomaly. Raises ExplainError (sending nothing)
    when no endpoint is configured."""
    config = config or explain_config(plan, env)
    if config is None:
        raise ExplainError(NOT_CONFIGURED)
    return chat(config, anomaly_prompt(history, anomaly))


def explain_timeline(history, actor, t0: float | None = None, t1: float | None = None, *,
                     plan=None, config: ExplainConfig | None = None, env=None) -> str:
    """An explanation of what one actor did between t0 and t1 (seconds)."""
    config = config or explain_config(plan, env)
    if config is None:
        raise ExplainError(NOT_CONFIGURED)
    return chat(config, timeline_prompt(history, actor, t0, t1))
