"""Invitations: links that let guests (and agents) into one room, with expiry, uses and role."""
