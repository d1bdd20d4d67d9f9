"""What other packages hang on a consultation's life cycle, without this package importing them.

blinker signals (Flask's own). Receivers run in the sender's transaction, so what they write
commits with the change or not at all. Packages above this one connect their receivers when they
are imported; `create_app` imports every package's views, so every app process has them.
"""

from blinker import Namespace

_signals = Namespace()

# Sender: the new Consultation, before it is added to the session. A receiver may fill in what
# its package decides (orders: the insurer an insurance consultation is billed to).
consultation_creating = _signals.signal("consultation-creating")

# Sender: the id of a consultation just completed, before the commit (orders: bill it).
consultation_finished = _signals.signal("consultation-finished")

# Sender: the Consultation a staff page shows; keyword `viewer`, the signed-in user. A receiver returns
# Markup for a part of the page its package owns (follow-ups: what it follows up, what was booked from
# it), or None. Parts are shown in the order receivers connected.
consultation_page = _signals.signal("consultation-page")
