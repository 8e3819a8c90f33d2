"""Settings from the environment, in one place.

Everything has an embedded default that needs no account and no network; production parts are
switched on by setting their variables. Secrets are read here only so that plain-Python entry
points (CLI, intake service) can use them; Dagster resources take them through `dg.EnvVar`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    # Routing tiers apply to a calibrated confidence (or the LLM judge's), never to raw cosine.
    auto_attach_threshold: float = 0.90
    ask_threshold: float = 0.80
    embedder: str = "local"  # local | openai
    local_backend: str = "onnx"  # onnx | torch: how the local model runs (same vectors)
    vector_index: str = "local"  # local | upstash
    llm_model: str | None = None  # set to enable the OpenAI-compatible LLM judge and drafting
    openai_base_url: str | None = None
    openai_embedding_model: str = "text-embedding-3-small"
    slack_base_url: str | None = None
    # auto: Slack when SLACK_BOT_TOKEN is set, else the outbox only; api: SLACK_BOT_TOKEN is
    # required (a production code server fails to load without it); outbox: never call Slack.
    slack_mode: str = "auto"
    app_url: str = "http://localhost:8000"
    service_url: str | None = None  # a running `gtm-feedback serve`; the CLI's search asks it
    reminder_delay_minutes: int = 60
    approval_expiry_days: int = 7
    route_batch_size: int = 200
    db_pool_size: int = 5  # app database pool per process (PostgreSQL)
    db_max_overflow: int = 5
    upstash_namespace: str = ""  # lets staging and production share one Upstash index
    max_text_chars: int = 5000
    feedback_emoji: str = "gtm-feedback"
    digest_channel: str | None = None
    ops_channel: str | None = None  # Slack channel told about failed Dagster runs
    dagster_url: str = "http://localhost:3000"  # the Dagster UI, for links to runs and assets
    default_account: str | None = None  # account of Slack-captured entries that name none
    # Request pages: header set by an authenticating reverse proxy (e.g. X-Forwarded-Email),
    # trusted only when configured; lifetime of a web session cookie.
    trusted_proxy_header: str | None = None
    web_session_hours: int = 12
    slack_response_url_base: str = "https://hooks.slack.com/"
    # The LLM judge per routing run: tokens it may spend (0: no limit; entries beyond wait for
    # the next run) and calls in flight at once.
    llm_token_budget: int = 1_000_000
    llm_concurrency: int = 4
    # "Not a match" and expired questions: `triage` (the area's product owner decides, on
    # /triage or `gtm-feedback triage`) or `new_request` (the old behaviour: a request at once).
    decline_to: str = "triage"
    area_owners: str = ""  # who is told about triage: "slug=email,other=email,*=email"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def dagster_home(self) -> Path:
        return Path(_env("DAGSTER_HOME") or (self.home / "dagster_home"))

    @property
    def llm_enabled(self) -> bool:
        return self.llm_model is not None and bool(_env("OPENAI_API_KEY"))

    @property
    def slack_enabled(self) -> bool:
        return bool(_env("SLACK_BOT_TOKEN"))

    def validate(self) -> None:
        if not 0.0 <= self.ask_threshold <= self.auto_attach_threshold <= 1.0:
            raise ValueError(
                "thresholds must satisfy 0 <= GTM_FEEDBACK_ASK_THRESHOLD <= "
                f"GTM_FEEDBACK_AUTO_ATTACH_THRESHOLD <= 1 (got {self.ask_threshold}, "
                f"{self.auto_attach_threshold})"
            )
        if self.embedder not in {"local", "openai"}:
            raise ValueError(
                f"GTM_FEEDBACK_EMBEDDER must be local or openai, got {self.embedder!r}"
            )
        if self.slack_mode not in {"auto", "api", "outbox"}:
            raise ValueError(
                f"GTM_FEEDBACK_SLACK_MODE must be auto, api or outbox, got {self.slack_mode!r}"
            )
        if self.decline_to not in {"triage", "new_request"}:
            raise ValueError(
                f"GTM_FEEDBACK_DECLINE_TO must be triage or new_request, got {self.decline_to!r}"
            )
        if self.vector_index not in {"local", "upstash"}:
            raise ValueError(
                f"GTM_FEEDBACK_VECTOR_INDEX must be local or upstash, got {self.vector_index!r}"
            )


def db_pool_limits() -> tuple[int, int]:
    """(pool_size, max_overflow) of the app database engine, for store/db.py, which builds its
    engine from a URL alone; reads only these two variables so a bad unrelated one cannot break
    engine creation."""
    return _env_int("GTM_FEEDBACK_DB_POOL_SIZE", 5), _env_int("GTM_FEEDBACK_DB_MAX_OVERFLOW", 5)


def log_format() -> str:
    """`text` (default) or `json`: the log lines of the CLI and the intake service
    (core/logs.py); reads only GTM_FEEDBACK_LOG_FORMAT."""
    value = (_env("GTM_FEEDBACK_LOG_FORMAT", "text") or "text").lower()
    if value not in ("text", "json"):
        raise ValueError(f"GTM_FEEDBACK_LOG_FORMAT must be text or json, got {value!r}")
    return value


def default_home() -> Path:
    return Path(_env("GTM_FEEDBACK_HOME") or "./.gtm_feedback").resolve()


def load_settings() -> Settings:
    home = default_home()
    database_url = _env("GTM_FEEDBACK_DATABASE_URL") or f"sqlite:///{home / 'gtm_feedback.db'}"
    settings = Settings(
        home=home,
        database_url=database_url,
        auto_attach_threshold=_env_float("GTM_FEEDBACK_AUTO_ATTACH_THRESHOLD", 0.90),
        ask_threshold=_env_float("GTM_FEEDBACK_ASK_THRESHOLD", 0.80),
        embedder=(_env("GTM_FEEDBACK_EMBEDDER", "local") or "local").lower(),
        local_backend=(_env("GTM_FEEDBACK_LOCAL_BACKEND", "onnx") or "onnx").lower(),
        vector_index=(_env("GTM_FEEDBACK_VECTOR_INDEX", "local") or "local").lower(),
        llm_model=_env("GTM_FEEDBACK_LLM_MODEL"),
        openai_base_url=_env("OPENAI_BASE_URL"),
        openai_embedding_model=_env("GTM_FEEDBACK_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
        or "text-embedding-3-small",
        slack_base_url=_env("GTM_FEEDBACK_SLACK_BASE_URL"),
        slack_mode=(_env("GTM_FEEDBACK_SLACK_MODE", "auto") or "auto").lower(),
        app_url=(_env("GTM_FEEDBACK_APP_URL", "http://localhost:8000") or "").rstrip("/"),
        service_url=(_env("GTM_FEEDBACK_SERVICE_URL") or "").rstrip("/") or None,
        reminder_delay_minutes=_env_int("GTM_FEEDBACK_REMINDER_DELAY_MINUTES", 60),
        approval_expiry_days=_env_int("GTM_FEEDBACK_APPROVAL_EXPIRY_DAYS", 7),
        route_batch_size=_env_int("GTM_FEEDBACK_ROUTE_BATCH_SIZE", 200),
        db_pool_size=_env_int("GTM_FEEDBACK_DB_POOL_SIZE", 5),
        db_max_overflow=_env_int("GTM_FEEDBACK_DB_MAX_OVERFLOW", 5),
        upstash_namespace=_env("GTM_FEEDBACK_UPSTASH_NAMESPACE", "") or "",
        max_text_chars=_env_int("GTM_FEEDBACK_MAX_TEXT_CHARS", 5000),
        feedback_emoji=_env("GTM_FEEDBACK_EMOJI", "gtm-feedback") or "gtm-feedback",
        digest_channel=_env("SLACK_DIGEST_CHANNEL_ID"),
        ops_channel=_env("GTM_FEEDBACK_OPS_CHANNEL"),
        dagster_url=(_env("GTM_FEEDBACK_DAGSTER_URL", "http://localhost:3000") or "").rstrip("/"),
        default_account=_env("GTM_FEEDBACK_DEFAULT_ACCOUNT"),
        trusted_proxy_header=_env("GTM_FEEDBACK_TRUSTED_PROXY_HEADER"),
        web_session_hours=_env_int("GTM_FEEDBACK_WEB_SESSION_HOURS", 12),
        slack_response_url_base=_env("GTM_FEEDBACK_SLACK_RESPONSE_URL_BASE")
        or "https://hooks.slack.com/",
        llm_token_budget=_env_int("GTM_FEEDBACK_LLM_TOKEN_BUDGET", 1_000_000),
        llm_concurrency=max(1, _env_int("GTM_FEEDBACK_LLM_CONCURRENCY", 4)),
        decline_to=(_env("GTM_FEEDBACK_DECLINE_TO", "triage") or "triage").lower(),
        area_owners=_env("GTM_FEEDBACK_AREA_OWNERS", "") or "",
    )
    settings.validate()
    return settings


@dataclass(frozen=True)
class Secrets:
    """Credentials for the plain-Python entry points (CLI, intake service). Dagster resources
    bind the same variables as `dg.EnvVar` instead, so no secret reaches run config. Never
    printed: `repr` hides every value."""

    openai_api_key: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    upstash_url: str | None = field(default=None, repr=False)
    upstash_token: str | None = field(default=None, repr=False)
    api_token: str | None = field(default=None, repr=False)
    web_secret: str | None = field(default=None, repr=False)  # signs web sessions and links


# Names of the secret variables, for the Dagster resources' `dg.EnvVar` bindings.
OPENAI_API_KEY = "OPENAI_API_KEY"
SLACK_BOT_TOKEN = "SLACK_BOT_TOKEN"
SLACK_SIGNING_SECRET = "SLACK_SIGNING_SECRET"
UPSTASH_VECTOR_REST_URL = "UPSTASH_VECTOR_REST_URL"
UPSTASH_VECTOR_REST_TOKEN = "UPSTASH_VECTOR_REST_TOKEN"
API_TOKEN = "GTM_FEEDBACK_API_TOKEN"
WEB_SECRET = "GTM_FEEDBACK_WEB_SECRET"


def load_secrets() -> Secrets:
    return Secrets(
        openai_api_key=_env(OPENAI_API_KEY),
        slack_bot_token=_env(SLACK_BOT_TOKEN),
        slack_signing_secret=_env(SLACK_SIGNING_SECRET),
        upstash_url=_env(UPSTASH_VECTOR_REST_URL),
        upstash_token=_env(UPSTASH_VECTOR_REST_TOKEN),
        api_token=_env(API_TOKEN),
        web_secret=_env(WEB_SECRET),
    )


def secret_is_set(name: str) -> bool:
    """Whether a secret variable is set, without returning it (for resource bindings)."""
    return _env(name) is not None


def attach_precision_target() -> float:
    """GTM_FEEDBACK_ATTACH_PRECISION (default 0.95): the auto-attach precision the calibrated
    attach threshold is chosen to reach (routing/confidence.py); reads only this variable."""
    value = _env_float("GTM_FEEDBACK_ATTACH_PRECISION", 0.95)
    if not 0.5 <= value < 1.0:
        raise ValueError(f"GTM_FEEDBACK_ATTACH_PRECISION must be in [0.5, 1), got {value}")
    return value
