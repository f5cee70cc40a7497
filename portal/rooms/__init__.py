"""Rooms: creating them, listing one's own, the pre-join page, the room page and join tokens."""
