"""A local OpenAI-compatible chat-completions server for tests, the demo and benchmarks.

A real HTTP server on 127.0.0.1 (stdlib ``ThreadingHTTPServer``), so the provider is
exercised over real sockets with real timeouts. Each remote model gets scripted replies
(good, fenced, prose-wrapped, malformed, out of range, slow, 429, 500, an error inside a
200), an optional fixed latency and a concurrency cap; every request is logged.

Hostile and provider-specific forms (issue 12): a server that trickles, a huge body,
a reasoning reply cut off at max_tokens, a content filter, deep nesting, a long
unterminated reply, billing errors (OpenAI 429 ``insufficient_quota``, OpenRouter and
Together 402), and the reply and error shapes of Ollama ``/v1``, Together, vLLM and
LM Studio as their documentation and bug reports show them.

    with FakeLLMServer(api_key="k") as server:
        server.script("m", rate_limited(), good(2, 1))
        ...  # POST {server.base_url}/chat/completions

Standalone: ``python -m tests.fakes.fake_llm --port 8089 --latency 0.2 --max-concurrency 4``.
"""

import argparse
import hashlib
import json
import math
import random
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from tests.fakes.server import BackgroundServer, huge_body, trickle

OverCapacity = Literal["reject", "wait"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a completion with ``content``, or an HTTP error, or a raw ``body``."""

    status: int = 200
    content: str | None = None
    compute: Callable[[str], tuple[int, int]] | None = None
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str | None = "stop"
    # Extra keys merged into the completion, its first choice and its message (provider shapes).
    completion_extra: dict = field(default_factory=dict)
    choice_extra: dict = field(default_factory=dict)
    message_extra: dict = field(default_factory=dict)
    raw: bytes | None = None  # sent verbatim as the body
    hostile: Literal["trickle-headers", "trickle-body", "huge", "huge-undeclared"] | None = None
    interval: float = 0.5  # trickle: seconds per byte
    size: int = 0  # huge: bytes


def prompt_score(prompt: str) -> tuple[int, int]:
    """A deterministic, plausible score derived from the prompt (a stand-in for a model)."""
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0] % 4, digest[1] % 3


def good(home: int = 2, away: int = 1) -> Reply:
    return Reply(content=json.dumps({"home": home, "away": away}))


def computed(fn: Callable[[str], tuple[int, int]] = prompt_score) -> Reply:
    return Reply(compute=fn)


def fenced(home: int = 2, away: int = 1) -> Reply:
    return Reply(content=f'```json\n{{"home": {home}, "away": {away}}}\n```')


def prose(home: int = 2, away: int = 1) -> Reply:
    return Reply(
        content=(
            "Both sides are in decent form, but the home side has the edge.\n"
            f'My prediction: {{"home": {home}, "away": {away}}}\nGood luck!'
        )
    )


def malformed(text: str = "I reckon the home side wins two-one.") -> Reply:
    return Reply(content=text)


def out_of_range(home: int = 21, away: int = 1) -> Reply:
    return Reply(content=json.dumps({"home": home, "away": away}))


def float_score(home: float = 2.5, away: float = 1.0) -> Reply:
    return Reply(content=f'{{"home": {home}, "away": {away}}}')


def slow(seconds: float, then: Reply | None = None) -> Reply:
    base = then or good()
    return Reply(status=base.status, content=base.content, compute=base.compute, body=base.body,
                 delay=seconds + base.delay, headers=base.headers)


def http_error(
    status: int, message: str = "", code: str | int | None = None, retry_after: float | None = None
) -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(status=status, body=_error_body(message or f"HTTP {status}", code), headers=headers)


def rate_limited(retry_after: float | None = None) -> Reply:
    return http_error(429, "Rate limit exceeded", "rate_limit_exceeded", retry_after)


def server_error() -> Reply:
    return http_error(500, "The server had an error while processing your request", "internal_error")


def error_in_200(message: str = "Provider returned error", code: str | int | None = "invalid_request") -> Reply:
    return Reply(status=200, body=_error_body(message, code))


def _error_body(message: str, code: str | int | None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


# --- hostile servers and unfinished generations (issue 12) ----------------------------


def trickling(interval: float = 0.5, phase: Literal["headers", "body"] = "headers") -> Reply:
    """The status line, then one byte every ``interval`` seconds, never finishing."""
    return Reply(hostile="trickle-headers" if phase == "headers" else "trickle-body", interval=interval)


def huge(size: int = 50 * 1024 * 1024, *, declare_length: bool = False) -> Reply:
    """A body of ``size`` bytes (50 MB by default), with or without a Content-Length."""
    return Reply(hostile="huge" if declare_length else "huge-undeclared", size=size)


def truncated_reasoning(draft: tuple[int, int] = (3, 0)) -> Reply:
    """DeepSeek-R1 style: still inside ``<think>`` when max_tokens ran out; a draft score is planted in it."""
    home, away = draft
    thinking = (
        "<think>\nLet me weigh the form. The home side scored freely lately, so a first guess: "
        f'{{"home": {home}, "away": {away}}}. But the away defence has improved, and'
    )
    return Reply(content=thinking, finish_reason="length")


def unclosed_reasoning(draft: tuple[int, int] = (3, 0)) -> Reply:
    """An unclosed ``<think>`` block even though the server says it stopped normally."""
    return Reply(content=f'<think>maybe {{"home": {draft[0]}, "away": {draft[1]}}}, or', finish_reason="stop")


def cut_off(content: str = '{"home": 2, "away": 1}') -> Reply:
    """A complete-looking answer whose generation hit max_tokens: still no answer."""
    return Reply(content=content, finish_reason="length")


def content_filtered() -> Reply:
    return Reply(content="", finish_reason="content_filter")


def deeply_nested(depth: int = 100_000) -> Reply:
    """A reply body nested ``depth`` levels deep (json's recursion would give out)."""
    return Reply(raw=b'{"choices": ' + b"[" * depth + b"]" * depth + b"}")


def nested_answer(depth: int = 5_000) -> Reply:
    """An answer text nested ``depth`` objects deep."""
    return Reply(content='{"a": ' * depth + '{"home": 1, "away": 0}' + "}" * depth)


def unterminated(size: int = 400 * 1024) -> Reply:
    """A long reply of ``{`` that never closes (made the old parser quadratic)."""
    return Reply(content="{" * size)


def unterminated_string(size: int = 400 * 1024) -> Reply:
    """An object whose string never closes, full of ``{``: every brace was a candidate to the old parser."""
    return Reply(content='{"home": 1, "away": "' + "{" * size)


# --- billing and quota ------------------------------------------------------------------

OPENAI_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on "
    "this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)


def insufficient_quota() -> Reply:
    """OpenAI: HTTP 429 whose code is ``insufficient_quota`` (not a rate limit)."""
    return Reply(status=429, body={"error": {"message": OPENAI_QUOTA_MESSAGE, "type": "insufficient_quota",
                                              "param": None, "code": "insufficient_quota"}})


def openrouter_no_credits() -> Reply:
    """OpenRouter: HTTP 402 with a numeric code and metadata."""
    return Reply(status=402, body={"error": {
        "code": 402, "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
        "metadata": {"limit_source": "openrouter_credits"}}})


def together_no_credits() -> Reply:
    """Together: HTTP 402, ``type: credit_limit``, with a request id at the top."""
    return Reply(status=402, body={"id": "o3LiXw4-62bZhn-96040daf687810ab", "error": {
        "message": "Credit limit exceeded. Please navigate to https://api.together.xyz/settings/billing to add "
        "credit or upgrade your plan.", "type": "credit_limit", "param": None, "code": None}})


def together_rate_limited(retry_after: float | None = None) -> Reply:
    """Together: a real per-minute limit, HTTP 429, although its type is also ``credit_limit``."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(status=429, headers=headers, body={"error": {
        "message": "You have been rate limited. Your rate limit is 60 queries per minute. Please navigate to "
        "https://api.together.xyz/settings/billing to upgrade to a paid plan.", "type": "credit_limit",
        "param": None, "code": None}})


# --- providers' reply and error shapes --------------------------------------------------


def ollama(home: int = 2, away: int = 1, *, reasoning: str | None = None) -> Reply:
    """Ollama's ``/v1/chat/completions``: ``system_fingerprint: fp_ollama``; thinking models add ``reasoning``."""
    return Reply(
        content=json.dumps({"home": home, "away": away}), completion_extra={"system_fingerprint": "fp_ollama"},
        message_extra={"reasoning": reasoning} if reasoning else {},
    )


def ollama_model_missing(model: str = "llama3.2") -> Reply:
    """Ollama /v1 for a model that was never pulled: HTTP 404, OpenAI-shaped error."""
    return Reply(status=404, body={"error": {"message": f'model "{model}" not found, try pulling it first',
                                             "type": "api_error", "param": None, "code": None}})


def together(home: int = 2, away: int = 1) -> Reply:
    """Together: ``finish_reason: eos``, a ``prompt`` list and choice-level ``seed`` / ``logprobs``."""
    return Reply(content=json.dumps({"home": home, "away": away}), finish_reason="eos",
                 completion_extra={"prompt": []}, choice_extra={"seed": 1234567, "logprobs": None})


def vllm(home: int = 2, away: int = 1, *, reasoning_content: str | None = None) -> Reply:
    """vLLM: ``stop_reason`` beside ``finish_reason``; a reasoning parser puts thoughts in ``reasoning_content``."""
    return Reply(
        content=json.dumps({"home": home, "away": away}), choice_extra={"stop_reason": None, "logprobs": None},
        message_extra={"reasoning_content": reasoning_content, "tool_calls": []},
    )


def vllm_error(status: int = 400, message: str = "This model's maximum context length is 4096 tokens.") -> Reply:
    """Older vLLM: the error object at the top level (``object: error``), code a number."""
    return Reply(status=status, body={"object": "error", "message": message, "type": "BadRequestError",
                                      "param": None, "code": status})


def lmstudio(home: int = 2, away: int = 1) -> Reply:
    """LM Studio: an OpenAI-shaped completion with ``stats`` and a ``system_fingerprint`` naming the model."""
    return Reply(content=json.dumps({"home": home, "away": away}),
                 completion_extra={"stats": {}, "system_fingerprint": "qwen2.5-7b-instruct"})


def lmstudio_wrong_endpoint(path: str = "/chat/completions") -> Reply:
    """LM Studio answers an unknown path with HTTP 200 and a string ``error`` ("Returning 200 anyway")."""
    return Reply(status=200, body={"error": f"Unexpected endpoint or method. (POST {path})"})


@dataclass
class LoggedRequest:
    """Logged on arrival, so a request the client gave up on still counts; status 0 until answered."""

    model: str
    prompt: str  # every message's content, joined by blank lines
    messages: list
    time: float  # time.time() on arrival
    payload: dict
    status: int = 0


@dataclass(frozen=True)
class Profile:
    """Per-request latency (lognormal, clipped) and 5xx answers, drawn from a seeded generator.

    The k-th request to a model always gets the same draw, so a benchmark can compute
    the bound this server imposes without asking it.
    """

    median: float = 0.0  # 0: no latency profile (the fixed latency applies)
    sigma: float = 0.0
    low: float = 0.0
    high: float = math.inf
    error_rate: float = 0.0
    seed: int = 0

    def draw(self, model: str, k: int) -> tuple[float | None, bool]:
        """(latency or None, whether this request fails with a 500)."""
        rng = random.Random(f"{self.seed}:{model}:{k}")
        latency = None
        if self.median > 0:
            latency = min(self.high, max(self.low, rng.lognormvariate(math.log(self.median), self.sigma)))
        return latency, rng.random() < self.error_rate


@dataclass
class _ModelState:
    replies: deque = field(default_factory=deque)
    default: Reply | None = None
    latency: float | None = None
    max_concurrency: int | None = None
    over_capacity: OverCapacity | None = None
    active: int = 0
    peak: int = 0
    served: int = 0  # requests drawn from the profile so far


class FakeLLMServer(BackgroundServer):
    """Scripted OpenAI-compatible server; thread-safe, one instance per test."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = "test-key",
        latency: float = 0.0,
        max_concurrency: int | None = None,
        over_capacity: OverCapacity = "reject",
        default: Reply | None = None,
        profile: Profile | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.profile = profile or Profile()
        self.api_key = api_key
        self.latency = latency
        self.max_concurrency = max_concurrency
        self.over_capacity: OverCapacity = over_capacity
        self.default = default or computed()
        self._models: dict[str, _ModelState] = defaultdict(_ModelState)
        self._log: list[LoggedRequest] = []
        self._lock = threading.Condition()
        self._stopping = threading.Event()

    # --- scripting -------------------------------------------------------------------

    def configure(
        self,
        model: str,
        *,
        default: Reply | None = None,
        latency: float | None = None,
        max_concurrency: int | None = None,
        over_capacity: OverCapacity | None = None,
    ) -> None:
        """Per-model behaviour once the scripted replies run out, and its capacity."""
        with self._lock:
            state = self._models[model]
            state.default = default if default is not None else state.default
            state.latency = latency if latency is not None else state.latency
            state.max_concurrency = max_concurrency if max_concurrency is not None else state.max_concurrency
            state.over_capacity = over_capacity or state.over_capacity

    def script(self, model: str, *replies: Reply) -> None:
        """Queue replies for a model, one per request, before its default takes over."""
        with self._lock:
            self._models[model].replies.extend(replies)

    # --- the log ---------------------------------------------------------------------

    def requests(self, model: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [entry for entry in self._log if model is None or entry.model == model]

    def count(self, model: str | None = None) -> int:
        return len(self.requests(model))

    def peak_concurrency(self, model: str) -> int:
        with self._lock:
            return self._models[model].peak

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # --- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    thread_name = "fake-llm"

    def handler_class(self) -> type["_Handler"]:
        return type("Handler", (_Handler,), {"fake": self})

    def start(self) -> "FakeLLMServer":
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        # Wake requests sleeping through their latency so shutdown does not wait for them.
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        super().stop()

    # --- serving ---------------------------------------------------------------------

    def _complete(self, payload: dict, authorization: str) -> tuple[int, dict, dict[str, str]]:
        """Status, body and headers of one chat-completions request."""
        model = str(payload.get("model", ""))
        messages = payload.get("messages") if isinstance(payload.get("messages"), list) else []
        prompt = "\n\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        entry = LoggedRequest(model, prompt, messages, time.time(), payload)
        with self._lock:
            self._log.append(entry)

        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            presented = authorization.removeprefix("Bearer ")
            # Real providers echo (part of) the presented key; the client must scrub it.
            body = _error_body(f"Incorrect API key provided: {presented}", "invalid_api_key")
            entry.status = 401
            return 401, body, {}

        with self._lock:
            state = self._models[model]
            reply = state.replies.popleft() if state.replies else (state.default or self.default)
            cap = state.max_concurrency if state.max_concurrency is not None else self.max_concurrency
            mode = state.over_capacity or self.over_capacity
            latency = state.latency if state.latency is not None else self.latency
            drawn, fails = self.profile.draw(model, state.served)
            state.served += 1
            latency = drawn if drawn is not None else latency
            if fails:  # a gateway 5xx answers at once and holds no slot
                entry.status = 500
                return 500, _error_body("The server had an error while processing your request", "internal_error"), {}
            if cap is not None and state.active >= cap:
                if mode == "reject":
                    entry.status = 429
                    return 429, _error_body("Too many concurrent requests for this model", "rate_limit_exceeded"), {}
                while state.active >= cap and not self._stopping.is_set():
                    self._lock.wait(timeout=0.1)
            state.active += 1
            state.peak = max(state.peak, state.active)
        try:
            self._stopping.wait(latency + reply.delay)
        finally:
            with self._lock:
                state.active -= 1
                self._lock.notify_all()

        if reply.hostile is not None:
            entry.status = 200
            return 200, reply, reply.headers
        if reply.raw is not None:
            entry.status = reply.status
            return reply.status, reply.raw, reply.headers
        if reply.status != 200 or reply.body is not None:
            body = reply.body if reply.body is not None else _error_body(f"HTTP {reply.status}", None)
            entry.status = reply.status
            return reply.status, body, reply.headers
        if reply.compute is not None:
            home, away = reply.compute(prompt)
            content = json.dumps({"home": home, "away": away})
        else:
            content = reply.content or ""
        entry.status = 200
        return 200, _completion(model, content, prompt, reply), reply.headers

    def _models_listing(self) -> dict:
        with self._lock:
            names = sorted(self._models)
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "fake"} for name in names]}


def _completion(model: str, content: str, prompt: str, reply: Reply | None = None) -> dict:
    reply = reply or Reply()
    prompt_tokens, completion_tokens = len(prompt.split()), len(content.split())
    message = {"role": "assistant", "content": content, **reply.message_extra}
    choice = {"index": 0, "message": message, "finish_reason": reply.finish_reason, **reply.choice_extra}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        **reply.completion_extra,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, {"error": {"message": f"Unknown path {self.path}", "code": "not_found"}})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not payload.get("model"):
            self._send(400, _error_body("Request body must be a JSON object naming a model", "invalid_request"))
            return
        status, body, headers = self.fake._complete(payload, self.headers.get("Authorization", ""))
        if isinstance(body, Reply):
            self._hostile(body)
            return
        self._send(status, body, headers)

    def _hostile(self, reply: Reply) -> None:
        stopping = self.fake._stopping
        if reply.hostile in ("trickle-headers", "trickle-body"):
            trickle(self, interval=reply.interval, phase=reply.hostile.removeprefix("trickle-"), stopping=stopping)
        else:
            huge_body(self, size=reply.size, declare_length=reply.hostile == "huge", stopping=stopping)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, self.fake._models_listing())
        else:
            self._send(404, {"error": {"message": f"Unknown path {self.path}", "code": "not_found"}})

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, bytes):
            data = body
        else:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record."""


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local fake OpenAI-compatible chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every reply")
    parser.add_argument("--max-concurrency", type=int, default=None, help="concurrent requests per model")
    parser.add_argument("--over-capacity", choices=["reject", "wait"], default="reject",
                        help="beyond the cap: answer 429 (reject) or queue (wait)")
    parser.add_argument("--api-key", default=None, help="require this Bearer key (default: none)")
    parser.add_argument("--latency-median", type=float, default=0.0,
                        help="lognormal latency per request with this median (replaces --latency)")
    parser.add_argument("--latency-sigma", type=float, default=0.7, help="the lognormal's sigma")
    parser.add_argument("--latency-min", type=float, default=0.0)
    parser.add_argument("--latency-max", type=float, default=math.inf, help="clip the tail here")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered with a 500")
    parser.add_argument("--seed", type=int, default=0, help="seed of the per-request draws")
    args = parser.parse_args(list(argv) if argv is not None else None)
    profile = Profile(median=args.latency_median, sigma=args.latency_sigma, low=args.latency_min,
                      high=args.latency_max, error_rate=args.error_rate, seed=args.seed)
    server = FakeLLMServer(
        host=args.host, port=args.port, api_key=args.api_key, latency=args.latency,
        max_concurrency=args.max_concurrency, over_capacity=args.over_capacity, profile=profile,
    )
    server.serve_until_interrupted("fake LLM serving {base_url}/chat/completions (Ctrl-C stops)")
    print(f"stopped after {server.count()} request(s)")


if __name__ == "__main__":
    main()
