"""The service as `promsvc serve` runs it, plus one route for the benchmark only, which the
production app does not have (bench/bench_service.py starts this script):

    python bench/bench_app.py --port P --workers N

`POST /bench/parse/{token}` reads the same body as the form API's submit
(`POST /api/v1/forms/{token}/submit`) and answers with a receipt of the same shape, but touches
no database, validates nothing and scores nothing: what the framework costs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

from litestar import Litestar, post
from litestar.params import FromPath, JSONBody

from promsvc.app import create_app
from promsvc.patient.schemas import ReceiptOut, SubmitIn
from promsvc.settings import Settings


@post("/bench/parse/{token:str}", sync_to_thread=False, status_code=201, include_in_schema=False)
def parse(token: FromPath[str], data: JSONBody[SubmitIn]) -> ReceiptOut:
    return ReceiptOut(received_at=dt.datetime.now(dt.UTC), instruments=sorted(data.answers or {}))


def app_from_environment() -> Litestar:
    """The factory each worker calls (as promsvc.app:app_from_environment, with the parse route)."""
    return create_app(Settings.from_mapping(os.environ), handlers=[parse])


def main() -> int:
    from promsvc.commands import serve

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve.prepare()  # check and migrate once, as `promsvc serve` does
    # The workers import this file as `bench_app` (its folder is on sys.path, also in spawned workers).
    return serve.serve(args.host, args.port, args.workers, app="bench_app:app_from_environment")


if __name__ == "__main__":
    raise SystemExit(main())
