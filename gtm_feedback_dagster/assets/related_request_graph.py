"""`related_request_graph`: exact k-nearest-neighbour graph of feature requests, per product area.

A thin Dagster shell: the maths is in `domain/request_graph.py`, the reading and writing in
`store/insights_data.py`.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from gtm_feedback_dagster.analytics.data import get_area
from gtm_feedback_dagster.analytics.graph import update_area_graph
from gtm_feedback_dagster.analytics.render import markdown_table
from gtm_feedback_dagster.core.request_graph import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_CLUSTER_THRESHOLD,
    DEFAULT_DUPLICATE_THRESHOLD,
    DEFAULT_K,
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_RELATED_THRESHOLD,
    GraphParams,
)
from gtm_feedback_dagster.partitions import product_area_partitions
from gtm_feedback_dagster.requests.merge import DuplicateCandidate, duplicate_candidates
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.retry import TRANSIENT_RETRY

DUPLICATES_CHECK = "no_likely_duplicates"
_SHOWN_DUPLICATES = 25


class RelatedRequestGraphConfig(dg.Config):
    """Neighbour count and similarity thresholds (raw cosine of the configured embedder)."""

    k: int = Field(default=DEFAULT_K, ge=1, le=200, description="Neighbours kept per request.")
    min_similarity: float = Field(
        default=DEFAULT_MIN_SIMILARITY, ge=-1.0, le=1.0, description="Edges below are not stored."
    )
    related_threshold: float = Field(
        default=DEFAULT_RELATED_THRESHOLD,
        ge=-1.0,
        le=1.0,
        description="Best neighbour at or above this becomes the request's related request.",
    )
    cluster_threshold: float = Field(
        default=DEFAULT_CLUSTER_THRESHOLD,
        ge=-1.0,
        le=1.0,
        description="Edges at or above this join requests into one cluster (theme).",
    )
    duplicate_threshold: float = Field(
        default=DEFAULT_DUPLICATE_THRESHOLD,
        ge=-1.0,
        le=1.0,
        description="Pairs at or above this are listed as likely duplicates (merge candidates).",
    )
    full_refresh: bool = Field(
        default=False, description="Recompute every request of the area, not only changed ones."
    )
    block_size: int = Field(
        default=DEFAULT_BLOCK_SIZE, ge=16, le=65536, description="Query rows per matrix block."
    )

    def params(self) -> GraphParams:
        return GraphParams(
            k=self.k,
            min_similarity=self.min_similarity,
            related_threshold=self.related_threshold,
            cluster_threshold=self.cluster_threshold,
            duplicate_threshold=self.duplicate_threshold,
            block_size=self.block_size,
        )


def _previous_params(context: dg.AssetExecutionContext) -> dict[str, Any] | None:
    """The params of this partition's last materialization (rows computed with another k or
    floor must be recomputed)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=context.asset_key, asset_partitions=[context.partition_key]
        ),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("params")
    data = getattr(value, "data", None)
    return data if isinstance(data, dict) else None


def _duplicates_table(
    candidates: list[DuplicateCandidate],
) -> tuple[str, dg.TableMetadataValue]:
    rows = [
        {
            "similarity": round(c.similarity, 4),
            "duplicate": f"#{c.duplicate_id} {c.duplicate_title}",
            "keep": f"#{c.target_id} {c.target_title}",
            "merge_command": c.merge_command,
        }
        for c in candidates
    ]
    md = (
        markdown_table(
            ["Similarity", "Duplicate", "Keep", "Merge command"],
            [
                [f"{r['similarity']:.3f}", r["duplicate"], r["keep"], f"`{r['merge_command']}`"]
                for r in rows
            ],
        )
        if rows
        else "No likely duplicates."
    )
    table = dg.TableMetadataValue(
        records=[dg.TableRecord(r) for r in rows],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("similarity", "float"),
                dg.TableColumn("duplicate", "string"),
                dg.TableColumn("keep", "string"),
                dg.TableColumn("merge_command", "string"),
            ]
        ),
    )
    return md, table


@dg.asset(
    partitions_def=product_area_partitions,
    # Every area's graph reads every area's vectors (cross-area neighbours), hence all partitions.
    deps=[dg.AssetDep("request_embeddings", partition_mapping=dg.AllPartitionMapping())],
    group_name="analytics",
    retry_policy=TRANSIENT_RETRY,
    owners=["team:gtm-feedback"],
    kinds={"faiss", "numpy", "sql"},
    description=(
        "Related-request graph of one product area (table `request_relations`): the exact k "
        "nearest neighbours of each of the area's requests among all non-merged requests "
        "(cross-area neighbours included), from the stored vectors. Incremental: only requests "
        "whose neighbours may have changed are recomputed. Sets each request's related request, "
        "and lists clusters and likely duplicates (merge them with `gtm-feedback requests "
        "merge`)."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            DUPLICATES_CHECK,
            asset="related_request_graph",
            description="Warns when pairs of requests are so similar they are likely duplicates.",
            # Per area: one area's failing check is not hidden by the next area's pass.
            partitions_def=product_area_partitions,
        )
    ],
    metadata={"table": "request_relations", "index": "faiss IndexFlatIP (exact)"},
)
def related_request_graph(
    context: dg.AssetExecutionContext, config: RelatedRequestGraphConfig, store: StoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    params = config.params()
    previous = _previous_params(context)
    full_refresh = config.full_refresh or params.stored_rows_differ(previous)
    if full_refresh and not config.full_refresh:
        context.log.info("k or min_similarity changed since the last run: full rebuild")
    with store.session() as session:
        area = get_area(session, context.partition_key)
        if area is None:
            raise dg.Failure(
                f"product area {context.partition_key!r} is not in the app database",
                allow_retries=False,
            )
        update = update_area_graph(session, area, params, full_refresh=full_refresh)
        candidates = duplicate_candidates(
            session, area.slug, params.duplicate_threshold, limit=_SHOWN_DUPLICATES
        )
    if update.skipped_other_models:
        context.log.warning(
            f"{update.skipped_other_models} vectors of another model than {update.model_id} "
            "were ignored (re-embedding in progress?)"
        )
    sizes = [len(c) for c in update.clusters]
    md_dups, table_dups = _duplicates_table(candidates)
    in_clusters = sum(sizes)
    yield dg.MaterializeResult(
        metadata={
            "edges": dg.MetadataValue.int(update.edge_count),
            "dagster/row_count": dg.MetadataValue.int(update.edge_count),
            "requests": dg.MetadataValue.int(update.queries),
            "requests_without_vector": dg.MetadataValue.int(update.without_vector),
            "corpus": dg.MetadataValue.int(update.corpus),
            "recomputed_requests": dg.MetadataValue.int(len(update.recomputed)),
            "rows_written": dg.MetadataValue.int(update.rows_written),
            "full_refresh": dg.MetadataValue.bool(update.full_refresh),
            "related_links_changed": dg.MetadataValue.int(update.related_changed),
            "clusters": dg.MetadataValue.int(len(sizes)),
            "cluster_sizes": dg.MetadataValue.json(sizes),
            "requests_in_clusters": dg.MetadataValue.int(in_clusters),
            "duplicate_pairs": dg.MetadataValue.int(update.duplicate_count),
            "duplicates": dg.MetadataValue.md(
                f"### Likely duplicates (similarity ≥ {params.duplicate_threshold})\n\n{md_dups}"
            ),
            "duplicates_table": table_dups,
            "model_id": dg.MetadataValue.text(update.model_id or "none"),
            "params": dg.MetadataValue.json(
                {
                    "k": params.k,
                    "min_similarity": params.min_similarity,
                    "related_threshold": params.related_threshold,
                    "cluster_threshold": params.cluster_threshold,
                    "duplicate_threshold": params.duplicate_threshold,
                }
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name=DUPLICATES_CHECK,
        passed=not update.duplicate_count,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{update.duplicate_count} likely duplicate pair{'' if update.duplicate_count == 1 else 's'}; merge with "
            "`gtm-feedback requests merge DUPLICATE INTO` (list: `gtm-feedback requests "
            f"duplicates --area {update.area_slug}`)"
            if update.duplicate_count
            else "no likely duplicates"
        ),
        metadata={
            "duplicate_pairs": dg.MetadataValue.int(update.duplicate_count),
            "threshold": dg.MetadataValue.float(params.duplicate_threshold),
            "pairs": dg.MetadataValue.md(md_dups),
        },
    )
