"""``make demo`` / ``python -m labcoat.demo``: the main job on generated customer data.

Generates a realistic churn table (numbers, categories, a boolean, dates, free text, missing
values, an ID column), holds out a quarter of it, fits within a budget, prints the schema and
the leaderboard, saves the model, reloads it and scores the held-out rows. The study is
recorded in the MLflow store under ``.labcoat/``; the data profile and the model report are
written to ``labcoat-demo/reports/``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from labcoat.errors import LabcoatNotice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labcoat.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--budget", default="30s")
    parser.add_argument("--out", type=Path, default=Path("labcoat-demo"))
    args = parser.parse_args(argv)

    import numpy as np
    from rich.console import Console
    from rich.table import Table
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    import labcoat
    from labcoat.datasets import make_churn

    console = Console()
    data = make_churn(args.rows, seed=0)
    train, held_out = train_test_split(data, test_size=0.25, random_state=0, stratify=data["churned"])
    args.out.mkdir(parents=True, exist_ok=True)
    train.to_csv(args.out / "train.csv", index=False)
    held_out.drop(columns="churned").to_csv(args.out / "new_customers.csv", index=False)
    console.rule("[bold]labcoat demo: who will churn?")
    console.print(f"{len(train):,} customers to learn from, {len(held_out):,} held out; "
                  f"budget {args.budget}. Data written to {args.out}/train.csv")

    with warnings.catch_warnings(record=True) as notices:
        warnings.simplefilter("always", LabcoatNotice)
        model = labcoat.fit(args.out / "train.csv", target="churned", budget=args.budget, seed=0,
                            report_dir=args.out / "reports")
    for notice in notices:
        console.print(f"[yellow]notice:[/] {notice.message}")

    schema = Table(title="Schema (roles inferred from the data)")
    for name in ("column", "role", "missing", "note"):
        schema.add_column(name)
    for row in model.schema.to_frame().itertuples():
        schema.add_row(str(row.column), str(row.role), f"{row.missing:.0%}", str(row.note))
    console.print(schema)

    board = Table(title=f"Leaderboard ({model.metric}, {model.info.resampling})")
    for name in ("rank", "family", "score", "95% interval", "fit s", "weight", "status"):
        board.add_column(name, justify="right" if name not in ("family", "status") else "left")
    for row in model.leaderboard.head(10).itertuples():
        board.add_row(str(row.rank), str(row.family), f"{row.score:.4f}",
                      f"[{row.score_low:.4f}, {row.score_high:.4f}]",
                      f"{row.fit_time:.1f}", f"{row.ensemble_weight:.2f}", str(row.status))
    console.print(board)
    console.print(f"Ensemble ({'+'.join(model.ensemble['family'])}): out-of-fold {model.metric} "
                  f"{model.info.ensemble_score:.4f}; fit took {model.info.fit_seconds:.1f}s "
                  f"for {model.info.n_trials} trials.")
    sel = model.info.selection
    console.print(f"Corrected for the search's own selection ({sel['method']}): {sel['corrected_score']:.4f} "
                  f"[{sel['low']:.4f}, {sel['high']:.4f}] (the search's own estimate: {sel['search_score']:.4f}).")
    console.print("Reports (open in a browser, offline): " + ", ".join(f"[bold]{p}[/]" for p in model.info.reports))

    path = model.save(args.out / "model")
    from labcoat.api import load_tabular

    reloaded = load_tabular(path)
    proba = reloaded.predict_proba(args.out / "new_customers.csv")
    positive = list(reloaded.classes_).index("yes")
    auc = roc_auc_score(held_out["churned"] == "yes", proba[:, positive])
    console.print(f"Saved to [bold]{path}[/]; reloaded and scored {len(held_out):,} held-out customers: "
                  f"ROC AUC {auc:.4f}.")
    top = np.argsort(-proba[:, positive])[:5]
    console.print("Most likely to churn: " + ", ".join(
        f"{held_out.iloc[i]['customer_id']} ({proba[i, positive]:.0%})" for i in top))
    run = model.info.run_id
    if run:
        console.print(f"The study is recorded in MLflow (.labcoat/ here) as run {run}: "
                      f"[bold]labcoat runs show {run}[/], or [bold]labcoat models register {run} "
                      "--name churn[/] to register it.")
    console.print(f"Next: [bold]labcoat info {path}[/], "
                  f"[bold]labcoat predict {path} {args.out / 'new_customers.csv'} -o predictions.csv[/]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
