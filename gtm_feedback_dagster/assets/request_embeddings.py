"""`request_embeddings`: one vector per feature request, per product area, kept current.

Incremental: a request is embedded only when it has no vector yet, its text changed (content hash)
or the embedding model changed; vectors of merged (or no longer searchable) requests are removed
from the table and the serving index. The `request_vectors` table is the source of truth; the
remote serving index (Upstash Vector) is updated in the same step, before the table commits, so a
failed index call leaves the table saying "not embedded" and the next run retries; the local faiss
index needs nothing, as every process builds it from the table.

Routing stores vectors too (for the requests it creates); `route_feedback_job` reports those as
materializations of the areas' partitions (`routing_materializations`), so the asset's history
shows every change of its vectors, not only this asset's own runs.
"""

import time
from collections.abc import Mapping, Sequence

import dagster as dg
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gtm_feedback_dagster.ai.embedders import EmbeddingError
from gtm_feedback_dagster.assets.sources import feature_requests
from gtm_feedback_dagster.partitions import product_area_partitions
from gtm_feedback_dagster.resources.ai import EmbedderResource, VectorIndexResource
from gtm_feedback_dagster.resources.store import StoreResource
from gtm_feedback_dagster.retry import EMBEDDING_RETRY
from gtm_feedback_dagster.routing.exemplars import sync_exemplar_vectors
from gtm_feedback_dagster.store.schema import ProductArea, RequestArea
from gtm_feedback_dagster.store.table_stats import vector_counts_by_area
from gtm_feedback_dagster.store.vectors import (
    delete_vectors,
    deleted_request_ids,
    plan_sync,
    stale_open_requests,
    upsert_vectors,
)
from gtm_feedback_dagster.vectors.base import VectorIndexError

# Requests embedded and committed per chunk: bounds memory and the transaction, and a crash
# keeps the chunks already done.
EMBED_CHUNK = 256

CHECK_NAME = "open_requests_have_current_vectors"


class EmbeddingSyncConfig(dg.Config):
    full_resync: bool = Field(
        default=False,
        description=(
            "Re-embed and re-upsert every request of the area, current or not, and delete the "
            "vectors of deleted requests from a remote index (the weekly re-sync)."
        ),
    )


def _permanent(exc: Exception) -> bool:
    return isinstance(exc, EmbeddingError | VectorIndexError) and not getattr(
        exc, "retryable", False
    )


@dg.asset(
    partitions_def=product_area_partitions,
    deps=[feature_requests],
    group_name="embeddings",
    owners=["team:gtm-feedback"],
    kinds={"python", "sql"},
    retry_policy=EMBEDDING_RETRY,
    description=(
        "Embeddings of the feature requests of one product area (`title + \\n\\n + "
        "description`, 384 dimensions; local all-MiniLM-L6-v2 by default, OpenAI "
        "text-embedding-3-small when configured), stored in `request_vectors` with the model id "
        "and a content hash and upserted to the serving vector index. Incremental: only new or "
        "changed requests are embedded; vectors of merged requests are removed. Also embeds "
        "the feedback people confirmed on the area's requests (`feedback_vectors`), which "
        "routing matches new entries against."
    ),
    metadata={
        "table": "request_vectors",
        "embedded_text": "title + '\\n\\n' + description",
        "dimension": 384,
    },
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset="request_embeddings",
            description=(
                "After the sync, every open request of the area has a vector made by the "
                "configured model from its current title and description (fails when a request "
                "changed while the area was being embedded, or an embedding went missing)."
            ),
            partitions_def=product_area_partitions,
        )
    ],
)
def request_embeddings(
    context: dg.AssetExecutionContext,
    config: EmbeddingSyncConfig,
    store: StoreResource,
    embedder: EmbedderResource,
    vector_index: VectorIndexResource,
) -> dg.MaterializeResult:
    area = context.partition_key
    started = time.perf_counter()
    model = embedder.get()
    tokens_before = model.usage.prompt_tokens
    with store.session() as session:
        if session.scalar(select(ProductArea.id).where(ProductArea.slug == area)) is None:
            raise dg.Failure(
                f"product area {area!r} does not exist in the app database", allow_retries=False
            )
        plan = plan_sync(session, model.model_id, area_slug=area, full=config.full_resync)
        # The local index is rebuilt from the table by every process that searches, so only a
        # remote index needs to be told about changes here.
        remote = vector_index.provider != "local"
        index = vector_index.open(session, model.model_id, model.dim) if remote else None

    embedded = 0
    embed_seconds = 0.0
    try:
        for start in range(0, len(plan.to_embed), EMBED_CHUNK):
            chunk = plan.to_embed[start : start + EMBED_CHUNK]
            t = time.perf_counter()
            vectors = model.embed([r.text for r in chunk])
            embed_seconds += time.perf_counter() - t
            with store.session() as session:
                upsert_vectors(
                    session, model.model_id, [(r.id, r.content_hash) for r in chunk], vectors
                )
                if index is not None:
                    index.upsert(
                        [r.id for r in chunk], vectors, [r.index_metadata() for r in chunk]
                    )
            embedded += len(chunk)
        swept: list[int] = []
        with store.session() as session:
            removed = delete_vectors(session, plan.to_remove)
            # A remote index keeps what it was given: delete every non-searchable request of
            # the area there (a merge may already have dropped the table row); idempotent.
            if index is not None and plan.not_searchable:
                index.delete(plan.not_searchable)
            if index is not None and config.full_resync:
                # Deleted requests took their table rows with them; their ids are the gaps.
                # Only in the weekly run: an id still being committed must not look deleted.
                swept = deleted_request_ids(session)
                if swept:
                    index.delete(swept)
            area_requests = list(
                session.scalars(
                    select(RequestArea.request_id)
                    .join(ProductArea, ProductArea.id == RequestArea.area_id)
                    .where(ProductArea.slug == area)
                )
            )
        # The confirmed feedback routing matches against (routing.exemplars): here all of the
        # area's, so a route run after importing a labelled history has nothing left to embed.
        t = time.perf_counter()
        confirmed = sync_exemplar_vectors(store.session, model, None, request_ids=area_requests)
        embed_seconds += time.perf_counter() - t
    except Exception as exc:
        if _permanent(exc):
            raise dg.Failure(str(exc), allow_retries=False) from exc
        raise

    context.log.info(
        f"area {area}: embedded {embedded}, unchanged {len(plan.unchanged)}, removed {removed}"
    )
    with store.session() as session:
        stale = stale_open_requests(session, model.model_id, area_slug=area)
    check = dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=not stale,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "stale_or_missing": len(stale),
            "request_ids": dg.MetadataValue.json(stale[:100]),
            "model": model.model_id,
        },
    )
    return dg.MaterializeResult(
        check_results=[check],
        metadata={
            "embedded": embedded,
            "confirmed_entries_embedded": confirmed,
            "unchanged": len(plan.unchanged),
            "removed": removed,
            "remote_deleted": (len(plan.not_searchable) + len(swept)) if remote else 0,
            "full_resync": config.full_resync,
            "model": model.model_id,
            "index": vector_index.provider,
            "embedding_tokens": model.usage.prompt_tokens - tokens_before,
            "embed_seconds": round(embed_seconds, 4),
            "total_seconds": round(time.perf_counter() - started, 4),
            "dagster/partition_row_count": embedded + len(plan.unchanged),
        },
    )


def routing_materializations(
    session: Session, model_id: str, vectors_written: Mapping[str, Sequence[int]]
) -> list[dg.AssetMaterialization]:
    """The `request_embeddings` partitions a routing run changed, as materializations.

    Routing stores the vector of every request it creates (and of any request it finds without
    a current one) in `request_vectors`, the table this asset keeps: the asset's content for
    those areas changed, so a materialization of each area partition is the truthful event (an
    observation would say nothing changed, and the asset would still read "last updated" at the
    weekly re-sync while downstream `related_request_graph` looked current).
    """
    totals = vector_counts_by_area(session, model_id, vectors_written)
    return [
        dg.AssetMaterialization(
            asset_key=request_embeddings.key,
            partition=area,
            description="Vectors stored by route_feedback_job for the requests it created or "
            "found without a current vector.",
            metadata={
                "embedded": len(ids),
                "request_ids": dg.MetadataValue.json(sorted(ids)[:100]),
                "model": model_id,
                "written_by": "route_feedback_job",
                "dagster/partition_row_count": totals.get(area, 0),
            },
        )
        for area, ids in sorted(vectors_written.items())
    ]
