"""HS256 JWTs that come back again and again (an API client's bearer token, a chat page's token), verified
once per process: PyJWT's decode is ~250-470 Python calls a token (its base64 check walks the token a
byte at a time), the largest single cost of a slot search and of a chat post.

A token that verified is remembered by the token itself, its key and the checks asked for; a later use of
the same token only checks that it has not expired since (the one check whose answer changes with time:
a signature, issuer, audience or required claim that held once holds for the same bytes and key).
Anything not remembered, or expired, goes through `jwt.decode` and raises as it does.
"""

import time

import jwt

_MAX_REMEMBERED = 4096
_verified: dict[tuple, dict] = {}


def decode_hs256(token: str, key: str, **checks) -> dict:
    """`jwt.decode(token, key, algorithms=["HS256"], **checks)`, verified once; the claims (do not change them)."""
    remembered_as = (token, key, repr(sorted(checks.items())))
    claims = _verified.get(remembered_as)
    # As PyJWT (no leeway): a token is expired once `exp` <= now.
    if claims is not None and time.time() < claims["exp"]:
        return claims
    claims = jwt.decode(token, key, algorithms=["HS256"], **checks)
    if isinstance(claims.get("exp"), int | float):
        if len(_verified) >= _MAX_REMEMBERED:
            _verified.clear()  # a crude bound: it refills with the tokens in use
        _verified[remembered_as] = claims
    return claims
