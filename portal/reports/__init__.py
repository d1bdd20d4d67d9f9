"""Reporting and operations: the audit-log browser (more to come: orders, insurer reports, dashboards)."""
