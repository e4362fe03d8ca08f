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


def make_retail(n_stores: int = 3, n_items: int = 10, days: int = 730, *, start: str = "2023-01-02",
                seed: int = 0) -> pd.DataFrame:
    """Daily unit sales of items in stores: a long table for forecasting.

    Each series (store × item) has a level, a weekly pattern (weekend peaks), a yearly cycle, a
    slow trend, promotions (``promo``, with a lower ``price``) that lift sales, holiday peaks
    (``holiday``, a few fixed dates a year), and Poisson noise; about a third of the items sell
    rarely (intermittent, mostly zero days). ``store_size`` and ``category`` are static per
    series; ``price``, ``promo`` and ``holiday`` are known in advance; ``temperature`` is
    known only once observed.

    Examples
    --------
    >>> sales = make_retail(n_stores=2, n_items=3, days=60)
    >>> sales.shape, sales.columns.tolist()[:4]
    ((360, 10), ['date', 'store', 'item', 'sales'])
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days)
    holiday = np.isin(dates.strftime("%m-%d"), ["01-01", "05-27", "07-04", "09-02", "11-28", "12-24", "12-25"])
    yearly = 1 + 0.25 * np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 80) / 365.25)
    weekly_shape = np.array([0.85, 0.8, 0.85, 0.95, 1.15, 1.35, 1.05])
    temperature = 12 + 10 * np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 110) / 365.25)
    frames = []
    for s in range(n_stores):
        size = int(rng.choice([800, 1500, 3000]))
        store_level = size / 1500
        weather = np.round(temperature + rng.normal(0, 3, days), 1)
        for i in range(n_items):
            rare = i % 3 == 2
            level = (rng.uniform(0.15, 0.5) if rare else rng.lognormal(2.5, 0.6)) * store_level
            base_price = float(np.round(rng.uniform(1, 20), 2))
            promo = rng.random(days) < 0.06
            price = np.where(promo, np.round(base_price * 0.8, 2), base_price)
            trend = 1 + rng.normal(0, 0.15) * t / max(days, 1)
            mean = (level * weekly_shape[dates.day_of_week] ** (0.5 if rare else 1) * yearly * trend
                    * np.where(promo, 1.6, 1.0) * np.where(holiday, 1.8, 1.0)
                    * (1 + 0.01 * (weather - 12) * (i % 2)))
            frames.append(pd.DataFrame({
                "date": dates, "store": f"store_{s + 1}", "item": f"item_{i + 1:02d}",
                "sales": rng.poisson(np.maximum(mean, 0)).astype(float), "price": price, "promo": promo.astype(int),
                "holiday": holiday.astype(int), "store_size": size,
                "category": ["fresh", "dry", "household"][i % 3], "temperature": weather}))
    return pd.concat(frames, ignore_index=True)
