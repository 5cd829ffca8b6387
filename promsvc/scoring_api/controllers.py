"""POST /api/v1/score: score a JSON batch without storing anything (any role)."""

from __future__ import annotations

import datetime as dt

from litestar import post
from litestar.params import FromPath, JSONBody

from promsvc.deps import CallerDep, RegistriesDep
from promsvc.patient.schemas import ReceiptOut, SubmitIn  # the body the benchmark route parses
from promsvc.scoring_api import services
from promsvc.scoring_api.schemas import ScoreIn, ScoreOut


@post("/score", sync_to_thread=True, status_code=200, tags=["scoring"], summary="Score a batch of responses",
      description="For platforms that collect answers elsewhere: nothing is stored. Any role. A wrong answer gives 422 "
                  "naming `$.responses[i].ITEM` with what was found and what is allowed.")
def score(data: JSONBody[ScoreIn], caller: CallerDep, registries: RegistriesDep) -> ScoreOut:
    return services.score(data, registries.instruments)


def bench_routes() -> list:
    """Routes for the benchmark only (setting `bench_routes`), see bench/bench_service.py.

    `POST /bench/parse/{token}` reads the same body as the form API's submit
    (`POST /api/v1/forms/{token}/submit`) and answers with a receipt of the same shape, but
    touches no database, validates nothing and scores nothing: what the framework costs.
    """
    @post("/bench/parse/{token:str}", sync_to_thread=False, status_code=201, include_in_schema=False)
    def parse(token: FromPath[str], data: JSONBody[SubmitIn]) -> ReceiptOut:
        return ReceiptOut(received_at=dt.datetime.now(dt.UTC), instruments=sorted(data.answers or {}))

    return [parse]
