"""gunicorn settings for bench/request_cost.py: the production file (gunicorn.conf.py) as it is, plus a
thin layer around each worker's app that reports per request, in response headers, the SQL statements
and commits the request made (X-Bench-Statements, X-Bench-Commits), writes the SQL of requests that
send X-Bench-Sql: 1 to the file BENCH_SQL_LOG, and profiles the requests that send X-Bench-Profile: 1
when BENCH_PROFILE is pyinstrument or cprofile. GET /__bench/profile answers the profile gathered so far
(and starts a new one); nothing else is answered by the layer itself.

    gunicorn -c bench/cost_conf.py wsgi:app
"""

import io
import os
import threading
import time
from pathlib import Path

_production = {}
exec(compile((Path(__file__).resolve().parent.parent / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"),
     _production)
globals().update({k: v for k, v in _production.items() if not k.startswith("__")})


class Counted:
    """The app, with each request's SQL statements and commits counted and sent back as headers."""

    def __init__(self, app):
        from sqlalchemy import event

        from portal.extensions import db

        self.app = app
        self.local = threading.local()
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        self.profiler = None
        self.profiles = 0

    def _counts(self):
        if not hasattr(self.local, "statements"):
            self.local.statements = self.local.commits = 0
        return self.local

    def _statement(self, conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA")):
            self._counts().statements += 1
        if getattr(self.local, "sql_log", None) is not None:
            self.local.sql_log.append(" ".join(statement.split()))

    def _commit(self, conn):
        self._counts().commits += 1
        if getattr(self.local, "sql_log", None) is not None:
            self.local.sql_log.append("-- COMMIT")

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/__bench/profile":
            return self._answer_profile(start_response)
        counts = self._counts()
        counts.statements = counts.commits = 0
        counts.sql_log = [] if environ.get("HTTP_X_BENCH_SQL") and os.environ.get("BENCH_SQL_LOG") else None

        def counting_start_response(status, headers, exc_info=None):
            if counts.sql_log is not None:
                with open(os.environ["BENCH_SQL_LOG"], "a") as log:
                    log.write("\n".join(counts.sql_log) + "\n")
                counts.sql_log = None
            headers = list(headers) + [("X-Bench-Statements", str(counts.statements)),
                                       ("X-Bench-Commits", str(counts.commits))]
            return start_response(status, headers, exc_info)

        if environ.get("HTTP_X_BENCH_PROFILE") and os.environ.get("BENCH_PROFILE"):
            return self._profiled(environ, counting_start_response)
        return self.app(environ, counting_start_response)

    def _profiled(self, environ, start_response):
        kind = os.environ["BENCH_PROFILE"]
        if self.profiler is None:
            if kind == "cprofile":
                import cProfile

                self.profiler = cProfile.Profile(time.thread_time)  # CPU, not waits for a busy machine
            else:
                from pyinstrument import Profiler

                self.profiler = Profiler(interval=0.0002)
        if kind == "cprofile":
            self.profiler.enable()
        else:
            self.profiler.start()
        try:
            body = self.app(environ, start_response)
            body = list(body)  # the answer is made inside the profile, as a worker writes it
        finally:
            if kind == "cprofile":
                self.profiler.disable()
            else:
                self.profiler.stop()
        self.profiles += 1
        return body

    def _answer_profile(self, start_response):
        text = f"no profile gathered (BENCH_PROFILE={os.environ.get('BENCH_PROFILE')!r})\n"
        if self.profiler is not None:
            if os.environ.get("BENCH_PROFILE") == "cprofile":
                import pstats

                out = io.StringIO()
                stats = pstats.Stats(self.profiler, stream=out).sort_stats(os.environ.get("BENCH_SORT", "tottime"))
                if os.environ.get("BENCH_PROFILE_DUMP"):  # the whole profile, for pstats or snakeviz
                    stats.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
                stats.print_stats(int(os.environ.get("BENCH_ROWS", "45")))
                if os.environ.get("BENCH_CALLERS"):
                    stats.print_callers(os.environ["BENCH_CALLERS"])
                text = out.getvalue()
            else:
                text = self.profiler.output_text(unicode=True, show_all=False)
            text = f"{self.profiles} requests profiled in worker {os.getpid()}\n{text}"
            self.profiler, self.profiles = None, 0
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [text.encode()]


def post_worker_init(worker):
    worker.wsgi = Counted(worker.wsgi)
    _production["post_worker_init"](worker)  # then gc.freeze(), as in production
