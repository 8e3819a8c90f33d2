"""Reliability tests (issue 7): crashes, failing dependencies, a restarted PostgreSQL,
concurrency, bad input, prompt injection and load — proving that nothing is lost or done twice.

CI runs a reduced form; `GTM_FEEDBACK_FULL_RELIABILITY=1` scales every count up (see
docs/reliability.md for the commands and the figures of the last full run).
"""
