"""Asking a person about the pairs a match model is least sure of (``labcoat match --review``):
the most uncertain scored pairs, spread over the match weights, shown field by field with
:meth:`MatchModel.explain`; the answers are labels (``id_a``, ``id_b``, ``match``) to refit
with (``labcoat.match(records, labels=answers)``; see :mod:`labcoat.tasks.match.supervised`).

A pair's uncertainty is the entropy of its match probability (largest at 0.5). The
``POOL`` × ``n`` most uncertain pairs (only those with a probability within [0.01, 0.99]
when there are ``n`` such, else in one band) are split into ``BANDS`` bands of match weight with
as many pairs each, and the questions take each band's most uncertain pair in turn, never
showing a record twice: so the questions do not all land on one kind of near-tie.

Examples
--------
>>> scored = pd.DataFrame({"id_a": ["a", "a", "c", "e"], "id_b": ["b", "c", "d", "f"],
...                        "match_probability": [0.5, 0.45, 0.99, 0.6], "match_weight": [0.0, -0.3, 6.6, 0.6]})
>>> uncertain_pairs(scored, 2)[["id_a", "id_b"]].values.tolist()
[['a', 'b'], ['e', 'f']]
>>> answers = iter(["y", "maybe", "n"])
>>> say = []
>>> ask_pairs(scored.head(2), ask=lambda prompt: next(answers), show=say.append, describe=lambda a, b: "")
  id_a id_b  match
0    a    b   True
1    a    c  False
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from labcoat.tasks.match.model import MatchModel

#: The pool of uncertain pairs the questions come from, in multiples of the questions asked.
POOL = 10
BANDS = 5
#: Pairs less uncertain than this (a probability outside [0.01, 0.99]) are asked about only when
#: there are not enough more uncertain ones.
MIN_ENTROPY = 0.08
ANSWERS: dict[str, bool | None] = {"y": True, "yes": True, "n": False, "no": False, "s": None, "skip": None, "": None}
QUIT = {"q", "quit", "exit"}
PROMPT = "Same entity? [y]es / [n]o / [s]kip / [q]uit: "
LABEL_COLUMNS = ["id_a", "id_b", "match"]


def uncertain_pairs(scored: pd.DataFrame, n: int, *, exclude: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``n`` scored pairs to ask about (module docstring), most uncertain first in each
    round over the weight bands; pairs in ``exclude`` (``id_a``, ``id_b``, either way round)
    are not asked again."""
    pool = scored[["id_a", "id_b", "match_probability", "match_weight"]]
    if exclude is not None and len(exclude):
        known = set(zip(exclude["id_a"].astype(str), exclude["id_b"].astype(str)))
        known |= {(b, a) for a, b in known}
        pool = pool[[pair not in known for pair in zip(pool["id_a"], pool["id_b"])]]
    p = np.clip(pool["match_probability"].to_numpy(dtype=float), 1e-12, 1 - 1e-12)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    pool = pool.assign(_entropy=entropy).sort_values("_entropy", ascending=False, kind="stable").head(POOL * n)
    spread = (pool["_entropy"] >= MIN_ENTROPY).sum() >= n
    if spread:  # over the weights of the uncertain pairs only, when there are enough
        pool = pool[pool["_entropy"] >= MIN_ENTROPY]
    bands = min(BANDS if spread else 1, len(pool))
    if not bands:
        return pool.drop(columns="_entropy").reset_index(drop=True)
    rank = pool["match_weight"].rank(method="first").to_numpy()
    pool = pool.assign(_band=((rank - 1) * bands // len(pool)).astype(int))
    queues = [band for _, band in pool.groupby("_band", sort=False)]
    queues.sort(key=lambda band: -band["_entropy"].iloc[0])
    chosen: list[Any] = []
    seen: set[str] = set()
    positions = [0] * len(queues)
    while len(chosen) < n and any(pos < len(q) for pos, q in zip(positions, queues)):
        for i, queue in enumerate(queues):
            while positions[i] < len(queue):
                row = queue.iloc[positions[i]]
                positions[i] += 1
                if row["id_a"] not in seen and row["id_b"] not in seen:
                    chosen.append(row.name)
                    seen.update((row["id_a"], row["id_b"]))
                    break
            if len(chosen) == n:
                break
    return pool.loc[chosen].drop(columns=["_entropy", "_band"]).reset_index(drop=True)


def ask_pairs(pairs: pd.DataFrame, *, ask: Callable[[str], str], show: Callable[[str], Any],
              describe: Callable[[Any, Any], str],
              on_answer: Callable[[pd.DataFrame], Any] | None = None) -> pd.DataFrame:
    """Ask about each of ``pairs`` (shown by ``describe(id_a, id_b)``): ``y``/``n`` label it,
    ``s`` (or nothing) skips it, ``q`` (or the end of the input) stops; anything else is asked
    again, twice at most. ``on_answer`` gets every answer so far after each one (to save them)."""
    answers: list[dict[str, Any]] = []
    for number, pair in enumerate(pairs.itertuples(index=False), start=1):
        show(f"\nPair {number} of {len(pairs)}: match probability {pair.match_probability:.3f}, "
             f"weight {pair.match_weight:+.2f}\n{describe(pair.id_a, pair.id_b)}")
        said = _answer(ask, show)
        if said == "quit":
            break
        if said is None:
            continue
        answers.append({"id_a": pair.id_a, "id_b": pair.id_b, "match": said})
        if on_answer is not None:
            on_answer(pd.DataFrame(answers, columns=LABEL_COLUMNS))
    return pd.DataFrame(answers, columns=LABEL_COLUMNS)


def _answer(ask: Callable[[str], str], show: Callable[[str], Any]) -> bool | str | None:
    """One answer: True, False, None (skip) or ``"quit"``."""
    for _ in range(3):
        try:
            text = ask(PROMPT).strip().lower()
        except EOFError:
            return "quit"
        if text in QUIT:
            return "quit"
        if text in ANSWERS:
            return ANSWERS[text]
        show(f"Answer y, n, s or q (got {text!r}).")
    return None


def describe_pair(model: MatchModel, id_a: Any, id_b: Any) -> str:
    """The two records side by side, field by field, with each field's weight and its reading."""
    table = model.explain(id_a, id_b)
    fields = table[table["field"] != "(prior)"]
    width = max(8, *(len(str(f)) for f in fields["field"]))
    values_a = [_text(v) for v in fields["value_a"]]
    span = max(12, *(len(v) for v in values_a))
    lines = [f"{'field':<{width}}  {'record ' + str(id_a):<{span}}  {'record ' + str(id_b)}"]
    for row, value_a in zip(fields.itertuples(index=False), values_a):
        lines.append(f"{row.field:<{width}}  {value_a:<{span}}  {_text(row.value_b):<{span}}  {row.weight:+6.2f}  "
                     f"{row.level}")
    return "\n".join(lines)


def _text(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def review(model: MatchModel, ask: Callable[[str], str] = input, n: int = 20, *,
           show: Callable[[str], Any] = print, exclude: pd.DataFrame | None = None,
           on_answer: Callable[[pd.DataFrame], Any] | None = None) -> pd.DataFrame:
    """Ask about the ``n`` pairs ``model`` is least sure of and return the answers as labels:
    ``id_a``, ``id_b``, ``match`` (bool). ``ask`` reads an answer after a prompt (default:
    the terminal), ``show`` prints; pairs in ``exclude`` (labels already given) are not asked;
    ``on_answer`` gets all the answers so far after each one. Refit with the answers:
    ``labcoat.match(records, labels=answers)``.

    Examples
    --------
    >>> answers = review(model, n=10)                                        # doctest: +SKIP
    >>> labcoat.match(records, id_column="rec_id", labels=answers)           # doctest: +SKIP
    """
    pairs = uncertain_pairs(model.scored, n, exclude=exclude)
    if not len(pairs):
        show("No pair left to ask about.")
        return pd.DataFrame(columns=LABEL_COLUMNS)
    return ask_pairs(pairs, ask=ask, show=show, describe=lambda a, b: describe_pair(model, a, b), on_answer=on_answer)
