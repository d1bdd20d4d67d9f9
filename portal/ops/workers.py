"""The RQ workers `flask worker` runs: RQ's own, with the bookkeeping round trips that repeat what Redis
already holds left out.

Between two jobs RQ's work loop beats three times outside its pipelines (each beat a HSET and an EXPIRE,
two round trips), writes the worker's state "idle" twice and asks whether workers are suspended: 8 of the 18
round trips a no-op job costs (bench/claims_profile.py). Here a beat outside a pipeline is sent only when
the last one is `HEARTBEAT_EVERY_SECONDS` old, a state is written only when it changes, and the suspension
check runs at most once a second. Beats inside RQ's pipelines (each job's start, a forked job's monitor)
cost no round trip and all stay, so a busy worker's `last_heartbeat` is as fresh as its latest job and an
idle one still beats before every blocking wait (`readiness.WORKER_TTL_SECONDS` minus 15 s).
"""

import time

from rq import SimpleWorker, Worker
from rq.utils import now

HEARTBEAT_EVERY_SECONDS = 5
SUSPENSION_CHECK_EVERY_SECONDS = 1


class _FewerRoundTrips:
    last_heartbeat = None
    _next_suspension_check = 0.0

    def heartbeat(self, timeout=None, pipeline=None):
        # A beat with its own timeout (a job's start, the monitor) or in a pipeline is always sent.
        if timeout is None and pipeline is None and self.last_heartbeat is not None \
                and (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY_SECONDS:
            return
        super().heartbeat(timeout, pipeline)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == getattr(self, "_state", None):
            return
        super().set_state(state, pipeline)

    def check_for_suspension(self, burst):
        if time.monotonic() < self._next_suspension_check:
            return
        super().check_for_suspension(burst)
        self._next_suspension_check = time.monotonic() + SUSPENSION_CHECK_EVERY_SECONDS


class ForkingWorker(_FewerRoundTrips, Worker):
    """RQ's Worker: each job in a forked work horse (a crashing job cannot take the worker down)."""


class InProcessWorker(_FewerRoundTrips, SimpleWorker):
    """RQ's SimpleWorker: jobs in the worker process, no fork per job (`flask worker --simple`)."""
