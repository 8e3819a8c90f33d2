"""Retry policies of the Dagster shell, in one place.

Assets and ops retry only transient failures (a database hiccup, a provider's 429/5xx); a
`dg.Failure(allow_retries=False)` stops a run at once. Jitter keeps retried runs of several
areas from hitting a provider at the same moment.
"""

import dagster as dg

# Analytics assets and jobs: a couple of retries, a few seconds apart.
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# Embedding calls fail fast and cheaply (one batch), so they retry sooner and once more.
EMBEDDING_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
