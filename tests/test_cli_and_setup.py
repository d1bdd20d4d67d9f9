"""Commands, demo data, migrations and readiness."""

import redis
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db
from portal.referrals.models import Referral
from portal.security.models import StaffUser


def test_create_user_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--email", "New@Example.org", "--password", "long enough pw",
                                 "--role", "doctor", "--name", "Dr New"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(StaffUser))
        assert user.email == "new@example.org" and user.role == "doctor"
        assert user.check_password("long enough pw") and "long enough pw" not in user.password_hash


def test_create_user_refuses_short_password_and_unknown_role(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["create-user", "--email", "a@b.org", "--password", "short", "--role", "doctor",
                                "--name", "A"])
    role = runner.invoke(args=["create-user", "--email", "a@b.org", "--password", "long enough pw",
                               "--role", "king", "--name", "A"])
    assert short.exit_code != 0 and role.exit_code != 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0


def test_demo_data_is_idempotent_and_has_every_state(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-data"])
    second = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "secretary@example.org" in first.output and "demo-password-1" in first.output
    with app.app_context():
        states = dict(db.session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
        assert set(states) == {"awaiting_screening", "converted", "declined"}
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 4


def test_migrations_match_the_models(app):
    with app.app_context():
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_readyz_is_503_when_redis_is_down(app):
    broken = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    broken.extensions["portal_redis"] = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"] == "unreachable"


def test_an_older_install_gets_new_secrets_and_keeps_its_old_ones(tmp_path):
    import json

    from portal.config import install_secrets

    (tmp_path / "secrets.json").write_text(json.dumps({"SECRET_KEY": "old-key", "DATA_KEYS": "k1:x",
                                                       "BLIND_INDEX_KEY": "b", "REFERRAL_WEBHOOK_SECRET": "r"}))
    first = install_secrets(tmp_path)
    second = install_secrets(tmp_path)
    assert first["SECRET_KEY"] == "old-key" and first["API_TOKEN_KEY"]
    assert second == first
