"""The refit of the calibrated confidence on the deployment's labels, with its held-out check;
launched by the weekly schedule (stopped until an operator turns it on) or by hand."""

import dagster as dg

from gtm_feedback_dagster.assets.routing_calibration import routing_calibration

routing_calibration_job = dg.define_asset_job(
    name="routing_calibration_job",
    selection=dg.AssetSelection.assets(routing_calibration)
    | dg.AssetSelection.checks_for_assets(routing_calibration),
    executor_def=dg.in_process_executor,
    description=(
        "Refits the calibrated match confidence on this deployment's labels; routing uses the "
        "refit only when the `held_out_attach_precision` check passes."
    ),
)
