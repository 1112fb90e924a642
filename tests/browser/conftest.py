"""The browser tests' dash_duo, fit for a shared, loaded machine.

dash[testing] serves each app on a fixed port counting up from 58050 and gives it 3 s to
answer. With several test sessions on one machine (CI runners, parallel jobs) a second
session's server fails to bind 58050 while the first one's answers there, so the test
silently drives the other session's app; and under load a start can take longer than 3 s.
Here every app gets a free port of its own and a minute to start."""

from __future__ import annotations

import pytest

from ioc.services.process import free_port

START_TIMEOUT_S = 60


@pytest.fixture
def dash_duo(dash_duo):
    start_server = dash_duo.start_server

    def start_on_a_free_port(app, navigate=True, **kwargs):
        kwargs.setdefault("port", free_port())
        kwargs.setdefault("start_timeout", START_TIMEOUT_S)
        # the runner sets its port inside the server thread; until then its url says 8050,
        # where something else may answer: set it before the start is waited for
        dash_duo.server.port = kwargs["port"]
        return start_server(app, navigate=navigate, **kwargs)

    dash_duo.start_server = start_on_a_free_port
    return dash_duo
