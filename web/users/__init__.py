"""Users in the panel: invitations, roles, fleets, deactivation, resets; set-password links."""
