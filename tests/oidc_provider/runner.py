"""Start and stop panva's oidc-provider (tests/oidc_provider/provider.mjs) from the tests.

`make test` installs it with `npm ci` from the committed package-lock.json. Without Node.js or
the installed package the tests that need it are skipped on a developer's machine and fail under
CI (CI=true), so a missing install step can never pass as green.
"""

import json
import os
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE = json.loads((HERE / "package.json").read_text())["dependencies"]
NAME, VERSION = "oidc-provider", PACKAGE["oidc-provider"]
STARTUP_SECONDS = 20


@dataclass
class Provider:
    """A running provider process: the issuer URL of each tenant it serves."""

    process: subprocess.Popen
    issuers: dict = field(default_factory=dict)
    log_path: Path | None = None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def require_installed() -> str:
    node = shutil.which("node")
    installed = (HERE / "node_modules" / NAME / "package.json").exists()
    if node and installed:
        return node
    reason = (f"{NAME} is not installed: run `make test` (it runs `npm ci` in tests/oidc_provider)"
              if node else "Node.js is missing")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def start_provider(tenants: list[dict], log_dir: Path) -> Provider:
    """tenants: [{"name", "host", "clients": [...], "accounts": {login: claims}}] (see provider.mjs)."""
    node = require_installed()
    log_path = log_dir / f"oidc-provider-{'-'.join(t['name'] for t in tenants)}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([node, str(HERE / "provider.mjs"), json.dumps({"tenants": tenants})],
                                   cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    provider = Provider(process=process, log_path=log_path)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        while (line := lines.get(timeout=STARTUP_SECONDS).strip()) != "ready":
            started = json.loads(line)
            provider.issuers[started["tenant"]] = started["issuer"]
        return provider
    except (queue.Empty, ValueError, KeyError):
        provider.stop()
        raise RuntimeError(f"{NAME} did not start: see {log_path}") from None
