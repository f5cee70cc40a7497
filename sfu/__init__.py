"""SFU worker: forwards encoded audio and video between the participants of a room."""
