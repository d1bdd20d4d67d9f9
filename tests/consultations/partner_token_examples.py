"""Example tokens of the chat key service and the video service, to hold ours against.

The repository kept no copy of the services' own example tokens, so these are rebuilt from what the
project's issues record of them (the seed's claim list, and issue 13: the chat example's `"scopes":
["1"]`; the video example's doctor and patient keys sharing one `d` UUID and `u` "medisinsk arbeider"
and differing only in `o` and `ud`). They are signed with a made-up secret: tests read their claims
without verifying, as one reads a partner's documentation.
"""

CHAT_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE2Njc5NDgyNzAsImV4cCI6MTY2ODAzNDY3MCwiaXNzIjoiNWMxYjdhNTItN2Uw"
    "Zi00ZDRiLTlhNTctMWYwZjdjMmE4ZTMxIiwianRpIjoiMGI4ZTNmMGEtNmE1My00YzFlLThmNWUtMmY3ZDZjOWIxYTQ0Iiwic2NvcGVzIjpbIjEi"
    "XSwicmVjaXBpZW50cyI6WyJDb25zdWx0YXRpb24vMTA0MiIsIlBhdGllbnQvMjA0MTciXSwiam9pbl90ZWFtIjp0cnVlLCJvd25lciI6IlBhdGll"
    "bnQvMjA0MTcifQ.6BbaR7FjkCqRME3M99VtwR0Vc4cGx9wQWUimDcXyzFw"
)
VIDEO_DOCTOR_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyIjoiQy03S1EyTTlYUC05ZjNhMWMyZSIsIm8iOnRydWUsInVkIjoiQ29uc3VsdGF0aW9uLzEw"
    "NDIiLCJ1IjoibWVkaXNpbnNrIGFyYmVpZGVyIiwiZCI6ImEzYzVlMGYyLTFiNGQtNGU2Zi04YTliLTBjMWQyZTNmNGE1YiIsImlhdCI6MTY2Nzk0"
    "ODI3MH0.oFFrZXTVcrk0kBiqUaWv3yy2FQ4S0u_tp1CJ9GXL9QA"
)
VIDEO_PATIENT_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyIjoiQy03S1EyTTlYUC05ZjNhMWMyZSIsIm8iOmZhbHNlLCJ1ZCI6IlBhdGllbnQvMjA0MTci"
    "LCJ1IjoibWVkaXNpbnNrIGFyYmVpZGVyIiwiZCI6ImEzYzVlMGYyLTFiNGQtNGU2Zi04YTliLTBjMWQyZTNmNGE1YiIsImlhdCI6MTY2Nzk0ODI3"
    "MH0.ABaCS8AwdP6r18rAam_mcFvVJ5jfNC3_72qkmYaEL0Y"
)
