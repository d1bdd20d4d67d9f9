"""The production gunicorn settings file: what a worker does once the app is loaded."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: freezing the collector's view would otherwise reach into the test process.
WORKER_BOOT = """
import gc, runpy
conf = runpy.run_path("gunicorn.conf.py")
from wsgi import app  # what a worker loads before post_worker_init
before = gc.get_freeze_count()
conf["post_worker_init"](None)
print(before, gc.get_freeze_count(), len(gc.get_objects()))
from portal.redis_embedded import stop_embedded_redis
stop_embedded_redis(app.config["INSTANCE_PATH"])
"""


def test_a_booted_worker_freezes_the_loaded_app_out_of_the_collectors_sight(tmp_path):
    env = {"INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin", "LOG_LEVEL": "WARNING"}
    out = subprocess.run([sys.executable, "-c", WORKER_BOOT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    before, frozen, still_tracked = map(int, out.stdout.split()[-3:])
    assert before == 0
    assert frozen > 50_000  # the app's mappers, templates and code lists
    assert still_tracked < 1_000  # a full collection now walks almost nothing
