"""Meetings: when a room is in use and by how many people, for usage figures and lifecycle."""
