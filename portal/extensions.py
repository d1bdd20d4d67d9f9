"""Extensions created once at import and bound to the app in create_app()."""

from functools import lru_cache

import redis
from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from rq import Worker
from sqlalchemy import MetaData, Table
from sqlalchemy.dialects import postgresql, sqlite

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Objects stay readable after commit: views commit, then render what they committed.
db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention), session_options={"expire_on_commit": False})
migrate = Migrate()


def insert_unless_taken(table: Table, values: dict) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, in the session's transaction: the new row's id, or
    None when a unique key is taken (by a concurrent request: the database decides who was first).
    One statement where a savepoint around an ORM add was five and a unit-of-work flush."""
    return db.session.scalar(_insert_unless_taken(table, db.session.get_bind().dialect.name), values)


@lru_cache(maxsize=32)
def _insert_unless_taken(table: Table, dialect_name: str):
    # Built once per table: the values go in as parameters, so each call skips building the statement.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing().returning(table.c.id)


login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address)
# Every user-visible string is marked with gettext (`_`); which language a request gets is decided in
# create_app's locale selector.
babel = Babel()


def connect_redis(config) -> redis.Redis:
    """The web's Redis client: a connect or an answer that takes longer than its timeout raises
    redis.TimeoutError (a RedisError, which callers already turn into "later"), so no request hangs."""
    return redis.Redis.from_url(config["REDIS_URL"], socket_connect_timeout=config["REDIS_CONNECT_TIMEOUT_SECONDS"],
                                socket_timeout=config["REDIS_READ_TIMEOUT_SECONDS"])


def redis_client() -> redis.Redis:
    """The app's shared Redis connection pool."""
    return current_app.extensions["portal_redis"]


def worker_redis() -> redis.Redis:
    """A client of its own for an RQ worker. RQ waits for jobs with blocking pops and sets the read
    timeout of the client it is given to outlast them: given the web's pool it would lengthen that."""
    config = current_app.config
    return redis.Redis.from_url(config["REDIS_URL"], socket_connect_timeout=config["REDIS_CONNECT_TIMEOUT_SECONDS"])


class _ReadOnlyWorker(Worker):
    """RQ's Worker as a page reads it. Building a Worker lengthens the read timeout of the client it is
    given (for a worker's blocking pops): given the web's client, /readyz or the queue page would strip
    it of its timeout for good. A page only reads worker records, so the client keeps its timeouts."""

    def _set_connection(self, connection):
        return connection


def registered_workers(connection) -> list[Worker]:
    """The RQ workers registered in Redis, read with `connection` as it is (timeouts kept)."""
    return _ReadOnlyWorker.all(connection=connection)
