"""Pure, vectorised scoring of instrument answers: scales, summary scores and EQ-5D indices.

    >>> import scoring
    >>> result = scoring.score("eq5d-5l", {"MO": [1, 5], "SC": [1, 5], "UA": [1, 5], "PD": [1, 5], "AD": [1, 5]},
    ...                        country="Norway")
    >>> result.scores["index"].round(3).tolist()
    [1.0, -0.453]
"""

from scoring.engine import Provenance, Result, score
from scoring.errors import AnswerError, MissingItems, ScoringError, UnknownName
from scoring.one import score_one

__all__ = ["AnswerError", "MissingItems", "Provenance", "Result", "ScoringError", "UnknownName", "score", "score_one"]
