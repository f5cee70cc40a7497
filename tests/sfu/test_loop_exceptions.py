"""The worker's loop exception handler: aiortc's connect task failing because its connection was
closed meanwhile is one line of log; any other unretrieved exception keeps its traceback."""

import asyncio
import gc
import logging

from aiortc.exceptions import InvalidStateError

from sfu.app import _expected_close_race


class RTCPeerConnection:  # the name aiortc's connect coroutine carries
    async def connect(self):
        raise InvalidStateError("RTCIceTransport is closed")


async def unrelated():
    raise InvalidStateError("something else")


def run_and_forget(coroutine_function) -> None:
    async def scenario():
        asyncio.get_running_loop().set_exception_handler(_expected_close_race)
        task = asyncio.ensure_future(coroutine_function())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        del task
        gc.collect()  # "Task exception was never retrieved" is reported when the task dies

    asyncio.run(scenario())


def test_closed_while_connecting_is_logged_without_traceback(caplog):
    caplog.set_level(logging.INFO)
    run_and_forget(RTCPeerConnection().connect)
    records = [r for r in caplog.records if "closed while connecting" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_other_unretrieved_exceptions_keep_their_traceback(caplog):
    run_and_forget(unrelated)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None
