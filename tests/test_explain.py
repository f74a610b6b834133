"""The optional language-model explainer, against a local fake
OpenAI-compatible endpoint (127.0.0.1, a thread) that records what it gets."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import PROGRAMS, run_cinescope

from cinescope.analyzer.anomalies import find_anomalies
from cinescope.analyzer.anomalies_command import cmd_anomalies
from cinescope.analyzer.explain import (ExplainConfig, ExplainError, Redactor,
                                        explain_anomaly, explain_config, explain_timeline)
from cinescope.capture.plan import PlanError, build_plan
from cinescope.store import History

SECRET = "hunter2-secret-value"         # an_errors.py's password
KEY = "sk-test-key-never-shown"


class Fake:
    """A chat-completions endpoint: answers `status` (200: a fixed text), or
    waits `delay` seconds first; keeps every request it got."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body.decode()})
                if fake.delay:
                    fake.release.wait(fake.delay)
                if fake.status != 200:
                    payload = b'{"error": "overloaded"}'
                else:
                    payload = json.dumps({"choices": [{"message": {
                        "role": "assistant", "content": " It broke in parse_port. "}}]}).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass                # the client gave up (the timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = Fake()
    yield server
    server.close()


@pytest.fixture(scope="module")
def errors_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explain")
    store = tmp / "errors.db"
    proc = run_cinescope(["record", "-q", "--store", str(store), "--trace", "an_errors",
                          str(PROGRAMS / "an_errors.py")], cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return store


def login_anomaly(h):
    [a] = [a for a in find_anomalies(h) if a.details.get("type") == "PermissionError"]
    return a


def test_the_request_has_the_chat_completions_shape_and_no_secret(errors_store, fake):
    with History(str(errors_store)) as h:
        # the password reached the store inside the exception's message: only the
        # redaction of the text can keep it from the endpoint
        assert SECRET in json.dumps(h.store.events())
        anomaly = login_anomaly(h)
        env = {"CINESCOPE_LLM_URL": fake.url, "CINESCOPE_LLM_MODEL": "tiny",
               "CINESCOPE_LLM_KEY": KEY}
        text = explain_anomaly(h, anomaly, env=env)
    assert text == "It broke in parse_port."
    [request] = fake.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert body["model"] == "tiny"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = body["messages"][1]["content"]
    assert "PermissionError" in user and "login" in user and "an_errors.py" in user
    assert ">> " in user                          # the anomaly's event, among its neighbours
    assert SECRET not in request["body"] and "<redacted>" in user
    assert KEY not in request["body"]


def test_a_timeline_is_explained_redacted_too(errors_store, fake):
    config = ExplainConfig(fake.url, "tiny")
    with History(str(errors_store)) as h:
        assert explain_timeline(h, "MainProcess", config=config) == "It broke in parse_port."
    [request] = fake.requests
    assert "Authorization" not in request["headers"]     # no key configured: none sent
    assert "parse_port" in request["body"] and SECRET not in request["body"]


def test_with_nothing_configured_nothing_is_sent(errors_store, fake, capsys, monkeypatch):
    for name in ("CINESCOPE_LLM_URL", "CINESCOPE_LLM_MODEL", "CINESCOPE_LLM_KEY"):
        monkeypatch.delenv(name, raising=False)
    with History(str(errors_store)) as h:
        with pytest.raises(ExplainError) as err:
            explain_anomaly(h, login_anomaly(h), env={})
    assert "CINESCOPE_LLM_URL" in str(err.value) and "[explain]" in str(err.value)
    assert "nothing was sent" in str(err.value)
    assert cmd_anomalies(["--store", str(errors_store), "--explain", "1"]) == 2
    assert "CINESCOPE_LLM_URL" in capsys.readouterr().err
    assert fake.requests == []


def test_the_command_explains_anomaly_n(errors_store, fake, capsys, monkeypatch):
    monkeypatch.setenv("CINESCOPE_LLM_URL", fake.url)
    monkeypatch.setenv("CINESCOPE_LLM_MODEL", "tiny")
    monkeypatch.setenv("CINESCOPE_LLM_KEY", KEY)
    assert cmd_anomalies(["--store", str(errors_store), "--explain", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["explanation"] == "It broke in parse_port."
    assert out["anomaly"]["kind"] == "exception"
    assert len(fake.requests) == 1 and KEY not in capsys.readouterr().err


def test_an_http_error_and_a_timeout_are_clear_errors(errors_store, fake):
    fake.status = 500
    with History(str(errors_store)) as h:
        anomaly = login_anomaly(h)
        with pytest.raises(ExplainError) as err:
            explain_anomaly(h, anomaly, config=ExplainConfig(fake.url, "tiny", KEY))
        assert "HTTP 500" in str(err.value) and fake.url in str(err.value)
        assert KEY not in str(err.value)
        fake.status, fake.delay = 200, 30.0
        with pytest.raises(ExplainError) as err:
            explain_anomaly(h, anomaly, config=ExplainConfig(fake.url, "tiny", KEY,
                                                             timeout=0.5))
        assert "did not answer within 0.5 s" in str(err.value)
    fake.release.set()


def test_an_unreachable_endpoint_is_a_clear_error(errors_store, fake):
    url = fake.url
    fake.close()                                  # nothing listens there any more
    with History(str(errors_store)) as h:
        with pytest.raises(ExplainError, match="cannot be reached"):
            explain_anomaly(h, login_anomaly(h), config=ExplainConfig(url, "tiny"))


def test_configuration_from_the_plan_and_its_errors(tmp_path):
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text('trace = ["an_bank"]\n[explain]\nurl = "http://127.0.0.1:9/v1"\n'
                         'model = "m"\nkey_env = "MY_KEY"\ntimeout = 5\n')
    plan = build_plan(str(plan_file))
    config = explain_config(plan, env={"MY_KEY": KEY})
    assert (config.endpoint, config.model, config.key, config.timeout) == \
        ("http://127.0.0.1:9/v1/chat/completions", "m", KEY, 5.0)
    assert KEY not in repr(config)
    assert explain_config(None, env={}) is None
    with pytest.raises(ExplainError, match="MY_KEY"):
        explain_config(plan, env={})
    with pytest.raises(ExplainError, match="CINESCOPE_LLM_MODEL"):
        explain_config(None, env={"CINESCOPE_LLM_URL": "http://127.0.0.1:9"})
    plan_file.write_text('trace = ["an_bank"]\n[explain]\nurl = "http://x"\nkey = "sk-1"\n')
    with pytest.raises(PlanError, match="key_env"):
        build_plan(str(plan_file))
    plan_file.write_text('trace = ["an_bank"]\n[explain]\nurl = "file:///etc/passwd"\n')
    with pytest.raises(PlanError, match="http://"):
        build_plan(str(plan_file))


def test_redaction_of_text_and_data():
    r = Redactor(["pin"])
    assert r.text("login password=abc123 ok") == "login password=<redacted> ok"
    assert r.text('{"api_key": "AKIA9", "user": "bob"}') == \
        '{"api_key": <redacted>, "user": "bob"}'
    assert r.text("Authorization: Bearer xyz.abc") == "Authorization: <redacted>"
    assert r.text("pin: 4921") == "pin: <redacted>"
    assert r.data({"args": {"pin": 4921, "n": 1}}) == {"args": {"pin": {"redacted": True},
                                                                "n": 1}}
    node = {"type": "dict", "items": [["token", "t0k"], ["a", 1]]}
    assert r.data(node)["items"] == [["token", {"redacted": True}], ["a", 1]]
