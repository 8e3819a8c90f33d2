"""The app database's tables as external assets, so the asset graph shows lineage from what
users submit to the derived embeddings, graph and reports. Intake (CLI, HTTP, Slack) and the
routing job write them; Dagster does not materialize them."""

import dagster as dg

SOURCE_GROUP = "sources"

feedback_entries = dg.AssetSpec(
    key="feedback_entries",
    group_name=SOURCE_GROUP,
    description=(
        "Customer feedback entries (table `feedback`): pain text, severity, account, submitter, "
        "routing status and the request each entry is attached to. Written by intake and "
        "`route_feedback_job`."
    ),
    kinds={"sql"},
    owners=["team:gtm-feedback"],
)

feature_requests = dg.AssetSpec(
    key="feature_requests",
    group_name=SOURCE_GROUP,
    description=(
        "Feature requests (table `requests`) with their product areas, status and followers. "
        "Created by users, imports and routing (new-request tier)."
    ),
    kinds={"sql"},
    owners=["team:gtm-feedback"],
)

crm_accounts = dg.AssetSpec(
    key="crm_accounts",
    group_name=SOURCE_GROUP,
    description="Accounts and opportunities with ARR, segment and region (tables `accounts`, `opportunities`).",
    kinds={"sql"},
    owners=["team:gtm-feedback"],
)

source_assets = [feedback_entries, feature_requests, crm_accounts]
