"""The demo's LLM: the tests' OpenAI-compatible fake server (tests/fakes/fake_llm.py) on 127.0.0.1.

Nothing leaves the machine; its answers are a deterministic function of the prompt. The demo
scripts it: one model hangs while its worker is killed, another answers HTTP 500 for a stretch.
"""

from tests.fakes.fake_llm import FakeLLMServer


class ChaosLLM(FakeLLMServer):
    def __init__(self) -> None:
        super().__init__(api_key=None)

    def failed(self, model: str) -> int:
        """Requests of ``model`` answered with an HTTP error."""
        return sum(entry.status >= 400 for entry in self.requests(model))
