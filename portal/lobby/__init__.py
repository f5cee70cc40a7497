"""The lobby: people waiting for a moderator to let them into a room (Redis, docs/meetings.md)."""
