"""Reporting: the insurer report job (xlsx), the dashboards and the admins' audit-log browser."""
