"""Partner organisations (tenants) as staff admins set them up, their users, and those users'
sign-in at their organisation's identity provider (OIDC)."""
