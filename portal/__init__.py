"""Care Portal: the app factory."""

import sqlite3

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from portal import compression, sqlite_writer, static_files, templating
from portal.config import PROJECT_ROOT, load_settings
from portal.extensions import babel, connect_redis, csrf, db, htmx, limiter, migrate
from portal.ids import IdConverter
from portal.security import csrf_tokens


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
    templating.init_app(app)  # before any template is compiled
    # Ids in URLs are database integers: one past 32 bits is simply not found, never a 500.
    app.url_map.converters["int"] = IdConverter

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        wait = app.config["SQLITE_WRITE_WAIT_SECONDS"]
        connect_args = {"timeout": wait}
        database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
        if database and database != ":memory:" and not database.startswith("file:"):
            connect_args["factory"] = sqlite_writer.connection_class(database, wait)  # writers take turns
            app.extensions[sqlite_writer.EXTENSION] = wait  # and requests that only write, one per process
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": connect_args})
    # queue_dashboard adds its pages to the ops blueprint, which metrics registers.
    from portal.ops import metrics, queue_dashboard, request_log  # noqa: F401

    # Registered first so that it runs last of the after-request hooks: it compresses the finished page.
    compression.init_app(app)
    # First of the request hooks: the clock starts before the rate limiter or sign-in may answer early.
    request_log.init_app(app)
    metrics.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    csrf_tokens.init_app(app)  # after CSRFProtect, whose own template global it replaces
    htmx.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, default_translation_directories=str(PROJECT_ROOT / "translations"))
    app.extensions["portal_redis"] = connect_redis(app.config)

    # The packages are imported here, not at the top of this file: importing any module of the
    # package (portal.extensions, say) runs this file first, and must not pull in every view.
    from portal import errors, main, menu
    from portal.api_docs import views as api_docs
    from portal.book_elsewhere import views as book_elsewhere
    from portal.care_requests import views as care_requests
    from portal.checkin import front_desk_views as checkin_front_desk, views as checkin
    from portal.consultations import views as consultations
    from portal.fhir import oauth, views as fhir
    from portal.follow_ups import views as follow_ups
    from portal.i18n import formatting as i18n_formatting, languages, views as i18n
    from portal.notifications import views as notifications
    from portal.orders import insurer_views, views as orders
    from portal.partners import sign_in as partner_sign_in, views as partners
    from portal.patient_record import views as patient_record
    from portal.referrals import views as referrals
    from portal.reports import views as reports
    from portal.scheduling import views as scheduling
    from portal.security import auth
    from portal.staff import account_views, password_views, views as staff_admin
    from portal.travel_pay import views as travel_pay
    from portal.triage import views as triage

    auth.init_app(app)
    # One blueprint per package, named after it (children nested in it per audience: consultations.patient).
    for package in (main, auth, account_views, password_views, staff_admin, referrals, scheduling, fhir,
                    book_elsewhere, partners, care_requests, triage, consultations, notifications, reports, checkin,
                    checkin_front_desk, travel_pay, orders, insurer_views, follow_ups, patient_record, api_docs,
                    i18n):
        app.register_blueprint(package.bp)
    oauth.init_app(app)
    partner_sign_in.init_app(app)
    errors.init_app(app)
    i18n_formatting.init_app(app)  # Jinja filters: dates, times, numbers, money, ages of things
    menu.init_app(app)  # the header's main menu (main_menu() in base.html)
    languages.init_app(app, babel)

    from portal import cli

    cli.init_app(app)
    static_files.init_app(app)  # outermost: files are answered before Flask sees the request
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
        # The same bound as the writer's turn (SQLITE_WRITE_WAIT_SECONDS): nobody waits for ever.
        cursor.execute(f"PRAGMA busy_timeout={int(getattr(dbapi_connection, 'wait_seconds', 15) * 1000)}")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """On SQLite, a transaction that will write takes the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    another process committed in between; an immediate one waits its turn (busy_timeout).
    GET requests stay deferred so readers never queue behind writers (but a page that audits its
    reads, `sqlite_writer.audited_page`, writes its event). A writer first waits for
    its turn (`portal/sqlite_writer.py`), so writers queue in the kernel, not in SQLite's busy sleeps.
    """
    if connection.dialect.name != "sqlite":
        return
    reading = sqlite_writer.begins_as_reader()
    if not reading:
        sqlite_writer.take_turn(connection.connection.dbapi_connection)
    connection.info[sqlite_writer.BEGAN_AS_WRITER] = not reading
    # Straight to pysqlite: through exec_driver_sql, SQLAlchemy's statement machinery cost ~40 us per
    # transaction, more than the BEGIN itself. A "database is locked" then comes as sqlite3's own
    # OperationalError, which errors.handle_database_busy answers as it does SQLAlchemy's.
    connection.connection.dbapi_connection.execute("BEGIN" if reading else "BEGIN IMMEDIATE")
