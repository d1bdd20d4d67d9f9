"""Care requests as partner staff make them: the partner's patients, the live list, the handoff
to self-scheduling, eligibility, and booking a free slot through the scheduling booking service."""
