"""SourceItem: one image to fetch, whatever kind of source it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from irdata.keys import image_id


@dataclass
class SourceItem:
    """One source item; `error` pre-fills a failure found while listing (e.g. a bad row)."""

    locator: str  # URL, absolute path, or archive!member
    kind: str  # "url", "file" or "member"
    source_name: str  # the pipeline's source name
    source: str = ""  # the list's `source` column, else the source name
    license: str = ""
    extra: str = "{}"  # other list columns, as JSON
    container: str = ""  # members: local path of the archive holding them
    member: str = ""  # members: name inside the archive
    error: str = ""  # preset reason: the item fails without being fetched
    detail: str = ""

    @property
    def image_id(self) -> str:
        return image_id(self.locator)

    def to_row(self) -> dict:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict) -> SourceItem:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})


def item_columns() -> list[str]:
    """Column order of the plan table."""
    return [f.name for f in fields(SourceItem)]
