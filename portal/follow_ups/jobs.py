"""RQ entry points: follow-up consultations enter the queue at their time."""

from portal.follow_ups import services


def release_follow_ups() -> int:
    """Release every follow-up consultation that is due, and keep the periodic sweep scheduled.

    Runs at each follow-up's own time (job `follow-up-release-<id>`) and every FOLLOW_UP_SWEEP_SECONDS,
    so a job Redis lost only delays a follow-up to the next sweep. Safe to run twice: each release is a
    conditional UPDATE of consultations still `scheduled`."""
    released = services.release_follow_ups()
    services.schedule_release_sweep()
    return len(released)
