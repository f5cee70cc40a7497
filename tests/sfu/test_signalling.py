"""Parsing and validation of client messages."""

import json

import pytest

from sfu.signalling import Answer, Join, Leave, Mute, SignallingError, parse_client_message

LIMIT = 65536


def parse(message):
    return parse_client_message(json.dumps(message), LIMIT)


def test_valid_messages_are_parsed():
    assert parse({"type": "join", "room": "r", "token": "t"}) == Join("r", "t")
    assert parse({"type": "answer", "revision": 2, "sdp": "v=0"}) == Answer(2, "v=0")
    assert parse({"type": "mute", "camera": False}) == Mute(microphone=None, camera=False)
    assert parse({"type": "leave"}) == Leave()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{nope", "malformed_message"),
        ("[1, 2]", "malformed_message"),
        ('{"type": 3}', "malformed_message"),
        ('{"type": "join", "room": "r"}', "malformed_message"),
        ('{"type": "answer", "revision": true, "sdp": "v=0"}', "malformed_message"),
        ('{"type": "mute"}', "malformed_message"),
        ('{"type": "dance"}', "unknown_message_type"),
        ('{"type": "join", "room": "' + "x" * LIMIT + '", "token": "t"}', "message_too_large"),
    ],
)
def test_bad_messages_are_refused_with_a_code(raw, code):
    with pytest.raises(SignallingError) as excinfo:
        parse_client_message(raw, LIMIT)
    assert excinfo.value.code == code
    assert excinfo.value.to_message()["message"]
