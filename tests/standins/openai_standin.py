"""Local stand-in for the OpenAI API (embeddings + chat completions), for the real `openai` client.

    with OpenAIStandin() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)

Embeddings are deterministic and crudely semantic: a hashed bag of words (each lower-cased word has
a fixed random direction), so texts sharing words are closer than texts that do not. Like the real
API the full-size vector is truncated to `dimensions` and re-normalised, and the answer is base64
little-endian float32 unless the request says `"encoding_format": "float"`.

Chat answers come from `chat_replies` (a queue: str content, dict -> JSON content, or a whole
`Response`), else from `chat_handler(request_json)`, else "{}".
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from tests.standins.http_standin import HTTPStandin, RecordedRequest, Response, json_response

NATIVE_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_WORD = re.compile(r"[a-z0-9]+")

ChatReply = str | dict | Response | None


def openai_error(
    message: str, status: int, type_: str = "invalid_request_error", code: str | None = None
) -> Response:
    return json_response(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}, status
    )


@lru_cache(maxsize=50_000)
def _word_vector(word: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float64)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class OpenAIStandin(HTTPStandin):
    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key  # when set, other bearer tokens get a 401 like the real API
        self.force_dimension: int | None = None  # answer with this length whatever was asked
        self.chat_replies: deque[ChatReply] = deque()
        self.chat_handler: Callable[[dict], ChatReply] | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- helpers for tests ----------------------------------------------------------------------

    @staticmethod
    def embedding_for(
        text: str, dimensions: int | None = None, model: str = "text-embedding-3-small"
    ) -> np.ndarray:
        """The vector this stand-in returns for `text` (float32, normalised)."""
        native = NATIVE_DIMS.get(model, 1536)
        words = _tokens(text) or [f"#{text}"]
        vec = np.zeros(native, dtype=np.float64)
        for word in words:
            vec += _word_vector(word, native)
        if dimensions is not None:
            vec = vec[:dimensions]
        norm = np.linalg.norm(vec)
        return (vec / norm).astype(np.float32) if norm > 0 else vec.astype(np.float32)

    def queue_chat(self, *replies: ChatReply) -> None:
        self.chat_replies.extend(replies)

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/embeddings")]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Response:
        if self.api_key is not None:
            sent = request.headers.get("authorization", "")
            if sent != f"Bearer {self.api_key}":
                key = sent.removeprefix("Bearer ")
                # The real API echoes (a masked form of) the key; echo it whole so tests prove
                # that callers never pass it on.
                return openai_error(
                    f"Incorrect API key provided: {key}.", 401, code="invalid_api_key"
                )
        if request.method != "POST":
            return openai_error("Method not allowed", 405)
        if not isinstance(request.json, dict):
            return openai_error("We could not parse the JSON body of your request.", 400)
        if request.path.endswith("/embeddings"):
            return self._embeddings(request.json)
        if request.path.endswith("/chat/completions"):
            return self._chat(request.json)
        return openai_error(f"Invalid URL (POST {request.path})", 404)

    def _embeddings(self, body: dict) -> Response:
        model = body.get("model")
        raw = body.get("input")
        if not isinstance(model, str):
            return openai_error("you must provide a model parameter", 400)
        inputs = [raw] if isinstance(raw, str) else raw
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(t, str) and t for t in inputs)
        ):
            return openai_error("'$.input' is invalid. Please check the API reference.", 400)
        if len(inputs) > 2048:
            return openai_error("'$.input' must have at most 2048 items", 400)
        dimensions = body.get("dimensions")
        if dimensions is not None:
            if model == "text-embedding-ada-002":
                return openai_error("This model does not support specifying dimensions.", 400)
            if not isinstance(dimensions, int) or dimensions < 1:
                return openai_error("'$.dimensions' is invalid", 400)
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            return openai_error("'$.encoding_format' is invalid", 400)
        dim = self.force_dimension or dimensions
        data = []
        tokens = 0
        for i, text in enumerate(inputs):
            vec = self.embedding_for(text, None, model)
            if dim is not None:
                vec = vec[:dim] if dim <= vec.shape[0] else np.resize(vec, dim)
                vec = (vec / np.linalg.norm(vec)).astype(np.float32)
            tokens += max(1, len(_tokens(text)))
            embedding: Any = (
                base64.b64encode(vec.astype("<f4").tobytes()).decode()
                if fmt == "base64"
                else [float(x) for x in vec]
            )
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        return json_response(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def _chat(self, body: dict) -> Response:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return openai_error("'messages' must be a non-empty array", 400)
        if self.chat_replies:
            reply = self.chat_replies.popleft()
        elif self.chat_handler is not None:
            reply = self.chat_handler(body)
        else:
            reply = "{}"
        if isinstance(reply, Response):
            return reply
        content = json.dumps(reply) if isinstance(reply, dict) else reply
        prompt_tokens = sum(len(_tokens(str(m.get("content", "")))) for m in messages)
        completion_tokens = len(_tokens(content or ""))
        return json_response(
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "unknown"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )
