"""Generated datasets for the demo and tests: deterministic by seed, no downloads."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_churn(n_rows: int = 3000, *, seed: int = 0) -> pd.DataFrame:
    """A customer-churn table with numbers, categories, a boolean, dates, text, missing values.

    The target ``churned`` ("yes"/"no", ~25% yes) follows a nonlinear model of the features,
    so a good model reaches a ROC AUC well below 1.

    Examples
    --------
    >>> make_churn(100).shape
    (100, 13)
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    tenure = rng.integers(1, 72, n)
    plan = rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.3, 0.2])
    monthly = np.round(rng.normal(30, 8, n) + (plan == "standard") * 20 + (plan == "premium") * 45, 2)
    calls = rng.poisson(1.5, n)
    region = rng.choice([f"region_{i}" for i in range(8)], n)
    city = rng.choice([f"city_{i:02d}" for i in range(60)], n)
    payment = rng.choice(["card", "bank", "check", "wallet"], n)
    paperless = rng.random(n) < 0.6
    signup = pd.Timestamp("2024-12-31") - pd.to_timedelta(tenure * 30 + rng.integers(0, 30, n), unit="D")
    topics = np.array(["cancel my contract", "price too high", "internet slow", "thanks for help",
                       "billing question", "upgrade my plan"])
    topic = rng.integers(0, len(topics), n)
    logit = (-1.6 - 0.035 * tenure + 0.02 * (monthly - 50) + 0.35 * calls + (payment == "check") * 0.6
             + (topic == 0) * 1.6 + (topic == 1) * 0.8 + (topic == 2) * 0.5 - (topic == 3) * 0.7
             + 0.4 * (plan == "basic") * (calls > 2) + rng.normal(0, 0.6, n))
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    total = np.round(monthly * tenure, 2).astype(float)
    total[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame({
        "customer_id": [f"C{seed:02d}{i:06d}" for i in range(n)],
        "tenure_months": tenure, "monthly_charges": monthly, "total_charges": total,
        "support_calls": calls, "plan": plan, "region": region, "city": city,
        "payment_method": payment, "paperless_billing": paperless,
        "signup_date": signup.strftime("%Y-%m-%d"),
        "last_ticket": [f"customer wrote: {topics[t]} please" for t in topic],
    })
    frame.loc[rng.random(n) < 0.04, "payment_method"] = None
    frame.insert(len(frame.columns), "churned", np.where(churned, "yes", "no"))
    return frame.drop(columns="support_calls").assign(support_calls=calls)
