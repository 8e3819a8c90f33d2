"""The "Add Feedback" modal (Block Kit view) and the callback, block and action ids that the
shortcut, the modal and the parsing of its submission (`slack.payloads`) share — the reference
app's ids, so existing Slack app configuration keeps working."""

from __future__ import annotations

from typing import Any

from gtm_feedback_dagster.core.validation import SEVERITY_EMOJI, SEVERITY_LABELS

FEEDBACK_SHORTCUT_CALLBACK_ID = "feedback_shortcut_id"
FEEDBACK_VIEW_CALLBACK_ID = "feedback_view_id"
SEVERITY_BLOCK_ID, SEVERITY_ACTION_ID = "severity_block_id", "severity_select_id"
ACCOUNT_BLOCK_ID, ACCOUNT_ACTION_ID = "account_id_block_id", "account_id_input_id"
OPPORTUNITY_BLOCK_ID, OPPORTUNITY_ACTION_ID = "opportunity_id_block_id", "opportunity_id_input_id"
PAIN_BLOCK_ID, PAIN_ACTION_ID = "customer_pain_block_id", "customer_pain_input_id"
LINKS_BLOCK_ID, LINKS_ACTION_ID = "links_block_id", "links_input_id"


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def feedback_modal_view() -> dict[str, Any]:
    """The "Add Feedback" modal (the reference's block and action ids)."""
    form_values = {"low": "nice_to_have", "medium": "significant_pain", "high": "dealbreaker"}
    options = [
        {
            "text": _plain(f"{SEVERITY_EMOJI[s]} {SEVERITY_LABELS[s]}"),
            "value": form_values[s],
        }
        for s in ("low", "medium", "high")
    ]
    return {
        "type": "modal",
        "callback_id": FEEDBACK_VIEW_CALLBACK_ID,
        "title": _plain("Add Feedback"),
        "submit": _plain("Add Feedback"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": SEVERITY_BLOCK_ID,
                "label": _plain("Severity"),
                "element": {
                    "type": "static_select",
                    "action_id": SEVERITY_ACTION_ID,
                    "placeholder": _plain("How much does it hurt?"),
                    "options": options,
                },
            },
            {
                "type": "input",
                "block_id": ACCOUNT_BLOCK_ID,
                "label": _plain("Account"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ACCOUNT_ACTION_ID,
                    "max_length": 200,
                    "placeholder": _plain("Salesforce account id, account name or domain"),
                },
            },
            {
                "type": "input",
                "block_id": OPPORTUNITY_BLOCK_ID,
                "optional": True,
                "label": _plain("Opportunity"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": OPPORTUNITY_ACTION_ID,
                    "max_length": 200,
                    "placeholder": _plain("Salesforce opportunity id (optional)"),
                },
            },
            {
                "type": "input",
                "block_id": PAIN_BLOCK_ID,
                "label": _plain("Customer pain"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": PAIN_ACTION_ID,
                    "multiline": True,
                    "max_length": 3000,
                    "placeholder": _plain(
                        "What pain would this solve for the customer, and what outcome would it enable?"
                    ),
                },
            },
            {
                "type": "input",
                "block_id": LINKS_BLOCK_ID,
                "optional": True,
                "label": _plain("Links"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": LINKS_ACTION_ID,
                    "max_length": 2000,
                    "placeholder": _plain("Comma-separated links: tickets, call notes, threads"),
                },
            },
        ],
    }
