"""The closed code lists, for any signed-in caller."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tongpin.counselling.api.dependencies import AnyCaller
from tongpin.counselling.schemas.codes import CodeListRead, CodeListsRead, CodeRead
from tongpin.shared.codes import CODE_LISTS

router = APIRouter()


@router.get("/codes", response_model=CodeListsRead, tags=["codes"])
async def code_lists(response: Response, _: AnyCaller) -> CodeListsRead:
    """The closed lists of outcome, decision and reason codes, with Chinese and English labels."""
    response.headers["cache-control"] = "private, max-age=300"
    return CodeListsRead(lists=[
        CodeListRead(name=c.name, zh=c.zh, en=c.en, fields=list(c.fields),
                     codes=[CodeRead(code=x.code, zh=x.zh, en=x.en) for x in c.codes])
        for c in CODE_LISTS
    ])
