"""POST /api/v1/score: score a JSON batch without storing anything (any role)."""

from __future__ import annotations

from litestar import post
from litestar.params import JSONBody

from promsvc.deps import CallerDep, RegistriesDep
from promsvc.scoring_api import services
from promsvc.scoring_api.schemas import ScoreIn, ScoreOut


@post("/score", sync_to_thread=True, status_code=200, tags=["scoring"], summary="Score a batch of responses",
      description="For platforms that collect answers elsewhere: nothing is stored. Any role. A wrong answer gives 422 "
                  "naming `$.responses[i].ITEM` with what was found and what is allowed.")
def score(data: JSONBody[ScoreIn], caller: CallerDep, registries: RegistriesDep) -> ScoreOut:
    return services.score(data, registries.instruments)
