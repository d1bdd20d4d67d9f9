"""Run a command's module on the tests' clock: `python -m tests.run_on_test_clock flask --app wsgi worker`.

A test that moved its clock (time-machine) and starts a process of its own (a `flask worker`) passes
the moment it is at in CARE_PORTAL_TEST_NOW (see `child_clock_env` in tests/conftest.py); the new
process's clock starts there and ticks on, so a job due "3 seconds after check-in" is due for the
worker too. Without the variable the command runs on the real clock.
"""

import os
import runpy
import sys

if __name__ == "__main__":
    now = os.environ.get("CARE_PORTAL_TEST_NOW")
    if now:
        import time_machine

        time_machine.travel(now, tick=True).start()
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
