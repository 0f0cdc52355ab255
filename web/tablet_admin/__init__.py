"""Tablets in the panel: register, move, re-time, revoke, device tokens; bulk actions."""
