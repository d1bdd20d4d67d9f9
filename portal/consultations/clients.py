"""Adapters to the chat key service and the video service (the sandbox plays both locally)."""

from dataclasses import dataclass

import requests


class ServiceUnavailable(Exception):
    """The external service did not answer usefully; the consultation was not started."""


@dataclass(frozen=True)
class ChatRoomKeys:
    room_id: str
    shared_secret_id: str
    shared_secret: str


@dataclass(frozen=True)
class VideoRoomInfo:
    name: str
    external_id: str


def _post(url: str, api_key: str, payload: dict, timeout: float, what: str) -> dict:
    try:
        response = requests.post(url, json=payload, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"{what} unreachable ({type(exc).__name__})") from None
    if response.status_code not in (200, 201):
        raise ServiceUnavailable(f"{what} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ServiceUnavailable(f"{what} answered something that is not JSON") from None


class ChatKeyServiceClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 5):
        self.base_url, self.api_key, self.timeout = base_url.rstrip("/"), api_key, timeout

    def create_room(self, reference: str) -> ChatRoomKeys:
        """A room plus the shared secret (and its id) that our chat JWTs are signed with."""
        body = _post(f"{self.base_url}/chat-keys/rooms", self.api_key, {"reference": reference}, self.timeout,
                     "chat key service")
        try:
            return ChatRoomKeys(str(body["roomId"]), str(body["sharedSecretId"]), str(body["sharedSecret"]))
        except (KeyError, TypeError):
            raise ServiceUnavailable("chat key service answered without room id or shared secret") from None


class InsurerCoverageClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 5):
        self.base_url, self.api_key, self.timeout = base_url.rstrip("/"), api_key, timeout

    def is_covered(self, policy_number: str) -> bool:
        body = _post(f"{self.base_url}/insurer/coverage", self.api_key, {"policyNumber": policy_number},
                     self.timeout, "insurer coverage service")
        covered = body.get("covered") if isinstance(body, dict) else None
        if not isinstance(covered, bool):
            raise ServiceUnavailable("insurer coverage service answered without 'covered'")
        return covered


class VideoServiceClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 5):
        self.base_url, self.api_key, self.timeout = base_url.rstrip("/"), api_key, timeout

    def create_room(self, name: str) -> VideoRoomInfo:
        body = _post(f"{self.base_url}/video/rooms", self.api_key, {"name": name}, self.timeout, "video service")
        try:
            return VideoRoomInfo(str(body["name"]), str(body["externalId"]))
        except (KeyError, TypeError):
            raise ServiceUnavailable("video service answered without room name or external id") from None
