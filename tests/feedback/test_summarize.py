"""The extractive summary of a Slack thread (used when no LLM is configured)."""

from __future__ import annotations

from gtm_feedback_dagster.feedback.summarize import clean_slack_text, extractive_summary


def test_slack_markup_is_cleaned() -> None:
    text = "<@U0ANA00001> hey <!here> :wave: see <https://x.example.com/t/1|the ticket> and https://y.example.com *now* &amp; <#C0SALES01|sales>"
    assert clean_slack_text(text) == "hey see the ticket and now & #sales"


def test_most_informative_sentences_are_kept_in_order() -> None:
    messages = [
        "<@U1> Globex says exporting invoices as PDF times out for large accounts. They cannot close the month.",
        "thanks :pray:",
        "Same for Initech, they need bulk PDF export of invoices before the renewal.",
        "ok cool, will look",
    ]
    summary = extractive_summary(messages)
    assert summary.startswith("Globex says exporting invoices as PDF times out")
    assert "Initech" in summary and "thanks" not in summary and "cool" not in summary


def test_summary_is_bounded_and_never_empty_for_short_messages() -> None:
    long_thread = [
        f"Customer {i} cannot export invoices to PDF because the export times out."
        for i in range(60)
    ]
    assert len(extractive_summary(long_thread)) <= 500
    assert extractive_summary(["SSO please!"]) == "SSO please!"
    assert extractive_summary([":+1:", "<@U1>"]) == ""
    assert len(extractive_summary(["word " * 400], max_chars=100)) <= 100


def test_duplicate_sentences_are_kept_once() -> None:
    summary = extractive_summary(["Invoices must be in EUR.", "Invoices must be in EUR!"])
    assert summary == "Invoices must be in EUR."
