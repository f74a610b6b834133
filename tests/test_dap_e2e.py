"""`cinescope dap` end to end, driven by DebugClient from the npm package
@vscode/debugadapter-testsupport (tests/dap/e2e.test.js), with this Python's
virtualenv. `make test` installs the package (npm ci in tests/dap)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

DAP_TESTS = Path(__file__).parent / "dap"


def test_dap_end_to_end_with_debugclient(tmp_path):
    node = shutil.which("node")
    assert node, "node is needed for the DAP end-to-end tests (Debian: apt install nodejs)"
    assert (DAP_TESTS / "node_modules" / "@vscode" / "debugadapter-testsupport").is_dir(), \
        "run `make test` (or `npm ci` in tests/dap) to install the DAP test client"
    env = dict(os.environ, CINESCOPE_BIN=os.path.dirname(sys.executable),
               CINESCOPE_TMP=str(tmp_path),
               CINESCOPE_PYTHON_VERSION="%d.%d" % sys.version_info[:2])
    env.pop("CINESCOPE_BACKEND", None)
    done = subprocess.run([node, "--test", "--test-concurrency=1", "e2e.test.js"],
                          cwd=DAP_TESTS, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "# fail 0" in done.stdout and "# pass 4" in done.stdout, done.stdout[-3000:]
