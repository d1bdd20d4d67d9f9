"""A partner always keeps an active partner_admin: demoting or deactivating the last one is refused,
also when two admins demote each other at the same moment."""

import threading

from sqlalchemy import func, select

from portal.extensions import db


def _active_admins(app, partner_id):
    from portal.partners.models import PartnerUser

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PartnerUser).where(
            PartnerUser.partner_id == partner_id, PartnerUser.role == "partner_admin", PartnerUser.active.is_(True)))


def test_the_last_admin_cannot_demote_themselves(app, partners, partner_client):
    client = partner_client("northside", "partner_admin")
    me = partners["northside"]["users"]["partner_admin"]
    response = client.post(f"/partner/users/{me}/role", data={"role": "viewer", "csrf_token": client.csrf},
                           follow_redirects=True)
    assert "last partner admin" in response.get_data(as_text=True)
    assert _active_admins(app, partners["northside"]["id"]) == 1
    assert client.get("/partner/users").status_code == 200  # still an admin


def test_an_admin_may_step_down_when_another_admin_remains(app, partners, partner_client):
    northside = partners["northside"]
    client = partner_client("northside", "partner_admin")
    other = northside["users"]["scheduler"]
    assert client.post(f"/partner/users/{other}/role",
                       data={"role": "partner_admin", "csrf_token": client.csrf}).status_code == 302
    me = northside["users"]["partner_admin"]
    response = client.post(f"/partner/users/{me}/role", data={"role": "viewer", "csrf_token": client.csrf},
                           follow_redirects=True)
    assert "Role changed." in response.get_data(as_text=True)
    assert _active_admins(app, northside["id"]) == 1
    assert client.get("/partner/users").status_code == 403  # a viewer now


def test_the_last_admin_cannot_be_deactivated(app, partners):
    from portal.partners import services

    northside = partners["northside"]
    with app.app_context():
        admin = northside["users"]["partner_admin"]
        try:
            services.deactivate_user(northside["id"], admin)
        except services.LastAdmin as refusal:
            assert "last partner admin" in str(refusal)
        else:
            raise AssertionError("the last admin was deactivated")
        # A deactivated admin does not count: demoting the last *active* one is still refused.
        services.change_role(northside["id"], northside["users"]["viewer"], "partner_admin")
        services.deactivate_user(northside["id"], northside["users"]["viewer"])
    assert _active_admins(app, northside["id"]) == 1


def test_a_refused_change_writes_no_audit_event(app, partners):
    from portal.partners import services
    from portal.security.models import AuditEvent

    northside = partners["northside"]
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        try:
            services.change_role(northside["id"], northside["users"]["partner_admin"], "viewer")
        except services.LastAdmin:
            pass
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, partners):
    from portal.partners import services

    northside = partners["northside"]
    first, second = northside["users"]["partner_admin"], northside["users"]["scheduler"]
    with app.app_context():
        services.change_role(northside["id"], second, "partner_admin")
    assert _active_admins(app, northside["id"]) == 2

    for _ in range(5):
        start = threading.Barrier(2)
        outcomes = []

        def demote(user_id, start=start, outcomes=outcomes):
            with app.app_context():
                start.wait()
                try:
                    services.change_role(northside["id"], user_id, "viewer")
                    outcomes.append("demoted")
                except services.LastAdmin:
                    outcomes.append("refused")
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=demote, args=(user_id,)) for user_id in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["demoted", "refused"]
        assert _active_admins(app, northside["id"]) == 1
        with app.app_context():  # make both admins again for the next round
            services.change_role(northside["id"], first, "partner_admin")
            services.change_role(northside["id"], second, "partner_admin")


def test_the_last_admin_of_one_partner_is_not_saved_by_another_partners_admin(app, partners):
    from portal.partners import services

    with app.app_context():
        try:
            services.change_role(partners["northside"]["id"], partners["northside"]["users"]["partner_admin"],
                                 "viewer")
        except services.LastAdmin:
            pass
        else:
            raise AssertionError("harbour's admin counted for northside")
