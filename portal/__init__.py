"""Care Portal: the app factory."""

import sqlite3

import redis
from flask import Flask, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from werkzeug.routing import IntegerConverter

from portal import sqlite_writer
from portal.config import PROJECT_ROOT, load_settings
from portal.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate


class DatabaseId(IntegerConverter):
    """Ids in URLs are database integers: one past 32 bits is simply not found (404), never a 500.

    Such an id becomes 0, which no row has, rather than failing the match: werkzeug would answer a
    failed match with 405 when another method's rule has the same path (PUT vs GET /Appointment/<id>).
    """

    regex = r"\d{1,18}"  # longer does not match at all (and int() of 5,000 digits would raise)

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= self.max else 0


def create_app(overrides: dict | None = None) -> Flask:
    settings = load_settings()
    settings.update(overrides or {})
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings)
    app.url_map.converters["int"] = DatabaseId

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        connect_args = {"timeout": 30}
        database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
        if database and database != ":memory:" and not database.startswith("file:"):
            connect_args["factory"] = sqlite_writer.connection_class(database)  # writers take turns
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": connect_args})
    from portal import ops

    # First of the request hooks: the clock starts before the rate limiter or sign-in may answer early.
    ops.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, default_translation_directories=str(PROJECT_ROOT / "translations"))
    app.extensions["portal_redis"] = redis.Redis.from_url(app.config["REDIS_URL"])

    from portal.security import auth

    auth.init_app(app)

    from portal import errors, filters, main
    from portal.i18n import formatting as i18n_formatting
    from portal.i18n import languages
    from portal.i18n import views as language_views
    from portal.consultations import direct_views, patient_views
    from portal.consultations import views as consultation_views
    from portal.fhir import consumer_views, oauth
    from portal.fhir import views as fhir_views
    from portal.notifications import views as notification_views
    from portal.partners import admin_views as partner_admin_views
    from portal.partners import sign_in as partner_sign_in
    from portal.partners import views as partner_views
    from portal.referrals import views as referral_views
    from portal.reports import views as report_views
    from portal.orders import views as order_views
    from portal.scheduling import views as scheduling_views

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    from portal.staff import account_views, password_views
    from portal.staff import views as staff_views

    app.register_blueprint(account_views.bp)
    app.register_blueprint(password_views.bp)
    app.register_blueprint(staff_views.bp)
    app.register_blueprint(referral_views.api_bp)
    app.register_blueprint(referral_views.bp)
    app.register_blueprint(scheduling_views.bp)
    app.register_blueprint(fhir_views.bp)
    app.register_blueprint(consumer_views.bp)
    app.register_blueprint(partner_views.bp)
    app.register_blueprint(partner_views.triage_bp)
    app.register_blueprint(partner_admin_views.bp)
    app.register_blueprint(consultation_views.api_bp)
    app.register_blueprint(consultation_views.bp)
    app.register_blueprint(patient_views.bp)
    app.register_blueprint(direct_views.bp)
    app.register_blueprint(notification_views.bp)
    app.register_blueprint(report_views.bp)
    # --- check-in and travel pay ---
    from portal.checkin import views as checkin_views
    from portal.travel_pay import views as travel_pay_views

    app.register_blueprint(checkin_views.bp)
    app.register_blueprint(travel_pay_views.bp)
    # --- end check-in and travel pay ---
    app.register_blueprint(order_views.bp)
    from portal.orders import insurer_views

    app.register_blueprint(insurer_views.bp)
    from portal.api_docs import views as api_docs_views

    app.register_blueprint(api_docs_views.bp)
    oauth.init_app(app)
    partner_sign_in.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    i18n_formatting.init_app(app)  # after filters: its age/duration/long_date speak the page's language
    languages.init_app(app, babel)
    app.register_blueprint(language_views.bp)

    from portal import cli

    cli.init_app(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers and one writer work at once; foreign keys are off by default in SQLite."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        # We issue BEGIN ourselves (below): pysqlite's own transaction handling breaks SAVEPOINT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """On SQLite, a transaction that will write takes the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    another process committed in between; an immediate one waits its turn (busy_timeout).
    GET requests stay deferred so readers never queue behind writers. A writer first waits for
    its turn (`portal/sqlite_writer.py`), so writers queue in the kernel, not in SQLite's busy sleeps.
    """
    if connection.dialect.name != "sqlite":
        return
    reading = (has_request_context() and (request.method in ("GET", "HEAD") or g.get("sqlite_reads_only"))
               and not g.get("sqlite_write"))
    if not reading:
        sqlite_writer.take_turn(connection.connection.dbapi_connection)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
