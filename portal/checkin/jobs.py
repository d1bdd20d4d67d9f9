"""RQ entry points for check-in."""

from flask import current_app

from portal import periodic
from portal.checkin import services


def send_checkin_links() -> int:
    """The periodic link sender: runs, then schedules its next run."""
    try:
        return services.send_checkin_links()
    finally:
        schedule_link_sender()


def schedule_link_sender() -> None:
    periodic.schedule_next("checkin-links", "portal.checkin.jobs.send_checkin_links",
                           current_app.config["CHECKIN_LINK_SWEEP_SECONDS"])
