"""Field encryption and blind indexes: the one home for both.

Values are sealed with AES-256-GCM. A ciphertext is `<key id>:<base64(nonce + ciphertext)>`;
the key id names which of the keys in DATA_KEYS opened it, so keys can be rotated while old
rows stay readable. The column's purpose is bound in as associated data, so a ciphertext
copied into another column does not decrypt. Keys come from the environment (or the
per-install secrets file), never from the database.

A blind index is an HMAC of a normalised value under its own key: equal values give equal
indexes, so a patient can be found by national id without storing the id in the clear.
"""

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class DecryptionError(Exception):
    pass


@dataclass(frozen=True)
class KeyRing:
    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str) -> "KeyRing":
        """`kid:base64key,kid:base64key`; the first key seals new values."""
        keys: dict[str, bytes] = {}
        for part in spec.split(","):
            kid, _, encoded = part.strip().partition(":")
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if not kid or len(key) != 32:
                raise ValueError("DATA_KEYS entries must be '<id>:<base64 of 32 bytes>'")
            keys[kid] = key
        return cls(current_id=next(iter(keys)), keys=keys)

    def seal(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current_id]).encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{self.current_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str, purpose: str) -> str:
        kid, _, encoded = token.partition(":")
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(f"no data key with id {kid!r}")
        raw = base64.b64decode(encoded)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except Exception as exc:  # InvalidTag: tampered, wrong key or wrong column
            raise DecryptionError("ciphertext does not open") from exc


# How often a process looks at instance/secrets.json for a rotated key. Every seal and open used to
# stat the file: one system call per decrypted value, hundreds per page of chat or patients.
SECRETS_CHECK_SECONDS = 1.0


def _refresh_keys_from_file(force: bool = False) -> None:
    """File-kept keys are re-read when instance/secrets.json changes (rotate-keys adds a key there),
    looked at no more than once a second per app unless `force`d. The process that rotates sets
    DATA_KEYS itself and waits a second before re-sealing, by when the others seal under the new key;
    a value under a key they do not know yet makes them look at once."""
    if not current_app.config.get("DATA_KEYS_FROM_FILE"):
        return
    now = time.monotonic()
    if not force and now < current_app.extensions.get("portal_secrets_next_check", 0.0):
        return
    current_app.extensions["portal_secrets_next_check"] = now + SECRETS_CHECK_SECONDS
    path = os.path.join(current_app.config["INSTANCE_PATH"], "secrets.json")
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return
    seen = current_app.extensions.get("portal_secrets_mtime")
    if seen is None:
        current_app.extensions["portal_secrets_mtime"] = mtime
    elif seen != mtime:
        with open(path) as f:
            current_app.config["DATA_KEYS"] = json.load(f)["DATA_KEYS"]
        current_app.extensions["portal_secrets_mtime"] = mtime


def key_ring(*, recheck: bool = False) -> KeyRing:
    _refresh_keys_from_file(force=recheck)
    spec = current_app.config["DATA_KEYS"]
    cached = current_app.extensions.get("portal_key_ring")
    if cached is None or cached[0] != spec:
        cached = (spec, KeyRing.parse(spec))
        current_app.extensions["portal_key_ring"] = cached
    return cached[1]


def encrypt(plaintext: str, purpose: str) -> str:
    return key_ring().seal(plaintext, purpose)


def _ring_that_opens(token: str, ring: KeyRing) -> KeyRing:
    """`ring`, or a fresh look at the secrets file when the value names a key it lacks: another
    process rotated within the last second."""
    if token.partition(":")[0] in ring.keys:
        return ring
    return key_ring(recheck=True)


def decrypt(token: str, purpose: str) -> str:
    return _ring_that_opens(token, key_ring()).open(token, purpose)


def decrypt_many(tokens, purpose: str):
    """Open a batch with one key-ring lookup."""
    ring = key_ring()
    return (_ring_that_opens(token, ring).open(token, purpose) for token in tokens)


def blind_index(kind: str, normalised_value: str) -> str:
    key = current_app.config["BLIND_INDEX_KEY"].encode()
    return hmac.new(key, f"{kind}:{normalised_value}".encode(), hashlib.sha256).hexdigest()


class EncryptedText(TypeDecorator):
    """A text column stored sealed; reads and writes in Python see the plaintext."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str):
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value, self.purpose)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value, self.purpose)
