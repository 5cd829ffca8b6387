"""The CPU work of one submission, in process: validation and scoring, beside decoding its body.

    .venv/bin/python bench/bench_prepare.py [--submissions 2000] [--repeat 5]

A submission of complete EQ-5D-5L and RAND-36 answers (as bench/bench_service.py sends) is
checked (`promsvc.responses.validation.validate`: codes and conditions) and scored with
`scoring.score_one` (EQ-5D-5L index; RAND-36 `rand` and `sf36v1`), which is what the service
does for each submission before it writes. Beside it, in the same run, the baseline: decoding
the same JSON body with msgspec, what any request costs. Prints microseconds per submission
(best of `--repeat`) for each step and for both together. Never part of the test pass/fail.
"""

from __future__ import annotations

import argparse
import random
import time

import msgspec

import instruments
import scoring
from promsvc.responses.validation import validate

SCORINGS = [("eq5d-5l", "index", {"country": "Norway"}), ("rand36", "rand", {}), ("rand36", "sf36v1", {})]


def bodies(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    chosen = {i: instruments.get(i) for i in ("eq5d-5l", "rand36")}
    return [
        msgspec.json.encode({"answers": {
            ins_id: {item.id: rng.choice(ins.codes_of(item)) for item in ins.items} for ins_id, ins in chosen.items()
        }})
        for _ in range(n)
    ]


def best(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sent = bodies(args.submissions)
    decoded = [msgspec.json.decode(b)["answers"] for b in sent]
    asked = [instruments.get("eq5d-5l"), instruments.get("rand36")]
    for ins_id, scoring_id, kw in SCORINGS:  # build the compiled plans before timing
        scoring.score_one(ins_id, decoded[0][ins_id], scoring=scoring_id, **kw)

    def decode():
        for body in sent:
            msgspec.json.decode(body)

    def check():
        for answers in decoded:
            validate(asked, answers)

    def score():
        for answers in decoded:
            for ins_id, scoring_id, kw in SCORINGS:
                scoring.score_one(ins_id, answers[ins_id], scoring=scoring_id, **kw)

    per = 1e6 / args.submissions
    rows = [("decode the body (baseline)", best(args.repeat, decode) * per),
            ("validate", best(args.repeat, check) * per),
            ("score_one x3", best(args.repeat, score) * per)]
    rows.append(("validate + score_one x3", rows[1][1] + rows[2][1]))
    print(f"{args.submissions} submissions of EQ-5D-5L + RAND-36, best of {args.repeat}; code: {scoring.__file__}")
    for label, us in rows:
        print(f"  {label:<28} {us:8.1f} µs per submission  ({us / rows[0][1]:5.1f} x the baseline)")


if __name__ == "__main__":
    main()
