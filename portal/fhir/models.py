from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.security.models import hash_secret, utcnow, verify_secret

GRANT_TYPE = "client_credentials"


class ApiClient(db.Model):
    """A machine client of the FHIR API (OAuth2 client credentials). Authlib's ClientMixin methods."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[str] = mapped_column(String(500))  # space-separated
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def set_secret(self, secret: str) -> None:
        self.secret_hash = hash_secret(secret)

    # --- authlib ClientMixin ---
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def check_redirect_uri(self, redirect_uri) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.active and verify_secret(self.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """No scope asked: everything the client may have. Asked for one it may not have: refused."""
        allowed = self.scope_list
        if not scope:
            return " ".join(allowed)
        asked = scope.split()
        if not set(asked) <= set(allowed):
            return None
        return " ".join(dict.fromkeys(asked))

