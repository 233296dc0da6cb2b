"""The shared bounded-call helper: deadlines, caps, JSON depth, Retry-After, backoff, redaction."""

import threading
import time
from datetime import UTC, datetime

import pytest
import requests

from matches.bounded_http import (
    BodyTooLarge,
    CallFailed,
    CallTimedOut,
    JsonTooDeep,
    backoff_delay,
    bounded_call,
    bounded_session,
    loads_bounded,
    redact,
    retry_after_seconds,
)
from tests.fakes.fake_llm import FakeLLMServer, good, huge, trickling

PAYLOAD = {"model": "m", "messages": []}


@pytest.fixture
def server():
    with FakeLLMServer(api_key=None) as fake:
        yield fake


def call(server: FakeLLMServer, session: requests.Session | None = None, **kwargs):
    options = {"deadline": 1.0, "max_bytes": 64 * 1024, **kwargs}
    return bounded_call(session or bounded_session(), "POST", server.base_url + "/chat/completions",
                        json=PAYLOAD, **options)


def test_a_good_answer_is_read_whole(server):
    server.script("m", good(2, 1))

    response = call(server)

    assert response.status_code == 200
    assert b'\\"home\\": 2' in response.content
    assert response.elapsed < 1.0


def test_concurrent_calls_in_threads_keep_their_own_deadlines(server):
    """The deadline is per thread (the predict job runs models in a pool): a trickle never stops a good call."""
    server.configure("slow", default=trickling(interval=0.2))
    server.configure("m", default=good(1, 1))
    session = bounded_session()
    outcomes: dict[str, object] = {}

    def run(model: str, deadline: float) -> None:
        try:
            outcomes[model] = bounded_call(session, "POST", server.base_url + "/chat/completions",
                                           json={"model": model, "messages": []}, deadline=deadline,
                                           max_bytes=65536).status_code
        except CallTimedOut as exc:
            outcomes[model] = exc

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=("slow", 0.8)), threading.Thread(target=run, args=("m", 5.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert isinstance(outcomes["slow"], CallTimedOut)
    assert outcomes["m"] == 200
    assert time.monotonic() - started < 0.8 + 1.0


def test_a_session_reused_after_a_timeout_still_works(server):
    server.script("m", trickling(interval=0.2), good(3, 3))
    session = bounded_session()

    with pytest.raises(CallTimedOut):
        call(server, session, deadline=0.5)
    response = call(server, session)

    assert response.status_code == 200


def test_the_cap_counts_the_bytes_read_not_the_declared_length(server):
    server.script("m", huge(10 * 1024 * 1024, declare_length=False))

    with pytest.raises(BodyTooLarge, match="exceeds the cap of 65536 bytes"):
        call(server, deadline=5.0)


def test_a_refused_connection_is_a_call_failure():
    with FakeLLMServer() as gone:
        url = gone.base_url

    with pytest.raises(CallFailed, match="connection error"):
        bounded_call(bounded_session(), "GET", url, deadline=1.0, max_bytes=1024)


def test_json_nesting_is_refused_in_one_pass_before_parsing():
    assert loads_bounded(b'{"a": [1, {"b": "[[[[[[["}]}', max_depth=3) == {"a": [1, {"b": "[[[[[[["}]}
    with pytest.raises(JsonTooDeep, match="deeper than 3 levels"):
        loads_bounded(b'{"a": [[[1]]]}', max_depth=3)
    started = time.monotonic()
    with pytest.raises(JsonTooDeep):
        loads_bounded(b"[" * 1_000_000)
    assert time.monotonic() - started < 1.0


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2025, 2, 8, 15, 0, 0, tzinfo=UTC)

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Sat, 08 Feb 2025 15:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Sat, 08 Feb 2025 14:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds(None) is None


def test_backoff_doubles_is_capped_and_never_undercuts_the_server():
    assert [backoff_delay(n, base=1.0, cap=5.0, jitter=False) for n in range(4)] == [1.0, 2.0, 4.0, 5.0]
    assert 0.5 <= backoff_delay(0, base=1.0, cap=5.0) <= 1.0
    assert backoff_delay(0, base=1.0, cap=60.0, retry_after=45.0) == 45.0
    assert backoff_delay(0, base=1.0, cap=60.0, retry_after=600.0) == 60.0
    assert backoff_delay(0, base=0.01, cap=60.0, floor=30.0) == 30.0


def test_redact_hides_every_secret():
    assert redact("key sk-1 and sk-2", "sk-1", "sk-2", "") == "key <redacted> and <redacted>"
    assert redact("nothing", "") == "nothing"
