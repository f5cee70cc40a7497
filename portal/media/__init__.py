"""What the portal knows about media: it signs join tokens and finds the SFU worker of a room."""
