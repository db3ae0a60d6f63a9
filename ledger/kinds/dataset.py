"""``dataset``: a provider declares a dataset by its content hash; the data stays home.

The payload names the dataset and commits to its content (``sha256:<hex>`` of the bytes
as the provider holds them). A new version of a dataset lists the old one in ``parents`` (a ``supersedes`` edge).
The record is filed under the index term ``dataset = <its id>``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ledger import formats
from ledger.effects import Edge, EdgeType, Term
from ledger.errors import InvalidRecord
from ledger.kinds.base import AdmissionContext, Admitted, Kind


class DatasetPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    content_hash: str = Field(pattern=formats.anchored(formats.COMMITMENT))
    media_type: str | None = Field(default=None, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    description: str | None = Field(default=None, max_length=4000)
    location: str | None = Field(default=None, max_length=500)  # where the data stays


def _check(p: DatasetPayload, ctx: AdmissionContext) -> Admitted:
    for parent in ctx.parents:
        if parent.kind != "dataset" or parent.author != ctx.author:
            raise InvalidRecord(
                f"a dataset's parents must be earlier versions by the same provider; "
                f"parent at leaf {parent.leaf_index} is a {parent.kind} by {parent.author}"
            )
    return Admitted(
        terms=(Term("dataset", ctx.record_id),),
        edges=tuple(Edge(EdgeType.SUPERSEDES, parent.record_id) for parent in ctx.parents),
    )


DATASET = Kind(
    name="dataset",
    roles=frozenset({"provider"}),
    schema=DatasetPayload,
    default_visibility="public",
    check=_check,
)
