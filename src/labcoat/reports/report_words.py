"""The model report in a few plain sentences, for the top of the page."""
from __future__ import annotations

from typing import Any

from labcoat.model_info import ModelInfo
from labcoat.reports._format import _num, _short


def summary_sentences(m: dict[str, Any]) -> list[str]:
    """The report in a few plain sentences, for the top of the page."""
    metric = m["metric"]
    rows = f", learned from {int(m['n_rows']):,} rows" if _num(m["n_rows"]) is not None else ""
    out = [f"This model predicts '{m['target']}' ({m['task_words']}) from {len(m['features'])} columns{rows}."]
    by_key = {e["key"]: e for e in m["estimates"]}
    if "search" in by_key:
        words = f"; {metric['label']} is {metric['words']}" if metric["words"] else ""
        out.append(f"Its {metric['label']} on rows it did not train on is {_scored(by_key['search'])}{words}.")
    if "selection" in by_key:
        out.append("Allowing for the luck of picking the best of many configurations, expect about "
                   f"{_scored(by_key['selection'])}.")
    if "test" in by_key:
        out.append(f"On test rows kept apart from the search it scored {_scored(by_key['test'])}.")
    if "data" in by_key:
        out.append(f"On the data given to this report it scores {_scored(by_key['data'])}.")
    info: ModelInfo = m["info"]
    members = m["ensemble"]
    if members:
        seconds = f" in {info.fit_seconds:.0f} s" if _num(info.fit_seconds) is not None else ""
        blend = ", ".join(f"{r['family']} ({r['weight']:.0%})" for r in members[:4])
        final = f"a blend of {blend}" if len(members) > 1 else members[0]["family"]
        out.append(f"labcoat tried {info.n_trials or len(m['leaderboard'])} configurations{seconds}; "
                   f"the final model is {final}.")
    if m["explanations"]:
        top = (m["explanations"]["importance"] or m["explanations"]["shap"])[:3]
        if top:
            out.append("The columns that matter most: " + ", ".join(f"'{t['feature']}'" for t in top) + ".")
    serious = [f for f in m["findings"] if f["severity"] == "high"]
    if serious:
        out.append(f"Warning: {len(serious)} serious problem(s) in the data, first: "
                   f"{serious[0]['check']} — {serious[0]['text'][:160]} (see Findings).")
    elif any(f["severity"] == "medium" for f in m["findings"]):
        first = next(f for f in m["findings"] if f["severity"] == "medium")
        out.append(f"The data checks raised {len(m['findings'])} point(s) to look at, first: "
                   f"{first['check']} — {first['text'][:160]} (see Findings).")
    elif m["findings"]:
        out.append(f"The data checks raised {len(m['findings'])} minor point(s); see Findings.")
    else:
        out.append("The data checks found no problem.")
    return out


def _scored(e: dict[str, Any]) -> str:
    """ "0.7721 (95% interval 0.6845 to 0.8597)", or the score alone without an interval."""
    if e.get("low") is None or e.get("high") is None:
        return _short(e["score"])
    return f"{_short(e['score'])} (95% interval {_short(e['low'])} to {_short(e['high'])})"
