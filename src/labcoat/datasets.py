"""Generated datasets for the demo and tests: deterministic by seed, no downloads."""

from __future__ import annotations

from typing import Literal, overload

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


#: The item categories of :func:`make_interactions` (one per latent taste).
CATEGORIES = ("books", "music", "games", "garden", "kitchen", "sports", "toys", "fashion")


@overload
def make_interactions(n_users: int = ..., n_items: int = ..., n_interactions: int = ..., *, seed: int = ...,
                      days: int = ..., start: str = ..., tables: Literal[False] = ...) -> pd.DataFrame: ...


@overload
def make_interactions(n_users: int = ..., n_items: int = ..., n_interactions: int = ..., *, seed: int = ...,
                      days: int = ..., start: str = ..., tables: Literal[True]
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]: ...


def make_interactions(n_users: int = 2000, n_items: int = 500, n_interactions: int = 50_000, *, seed: int = 0,
                      days: int = 365, start: str = "2024-01-01", tables: bool = False
                      ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Implicit feedback (users meeting items) with structure to learn, for recommendation.

    Each user has a few latent tastes among :data:`CATEGORIES` and an activity level; each item
    belongs mostly to one taste (its ``category``) and has a popularity (skewed: a few items
    take many interactions) and a release day. An interaction picks a user by activity, one of
    their tastes, and an item of that taste by popularity; it is dated after the item's
    release, mostly soon after, so what is popular drifts in time. Repeated (user, item) pairs
    are dropped, so there are ``n_interactions`` distinct pairs (fewer if the users × items
    grid is too small). Sorted by ``timestamp``.

    Returns the interactions (``user_id``, ``item_id``, ``timestamp``); with ``tables=True``
    also the items table (``item_id``, ``category``, ``title``, ``price``) and the users table
    (``user_id``, ``segment``, ``age``), as ``(interactions, items, users)``. One million
    interactions of 50,000 users and 10,000 items take a few seconds.

    Examples
    --------
    >>> rows, items, users = make_interactions(n_users=200, n_items=50, n_interactions=3000, tables=True)
    >>> rows.shape, rows.columns.tolist(), items.columns.tolist(), users.columns.tolist()
    ((3000, 3), ['user_id', 'item_id', 'timestamp'], ['item_id', 'category', 'title', 'price'], ['user_id', 'segment', 'age'])
    """
    rng = np.random.default_rng(seed)
    k = len(CATEGORIES)
    item_taste = rng.dirichlet(np.full(k, 0.15), n_items)
    popularity = 1.0 / (rng.permutation(n_items) + 5.0) ** 0.9  # Zipf-like skew
    release = np.where(rng.random(n_items) < 0.85, 0.0, rng.uniform(0, 0.85 * days, n_items))
    user_taste = rng.dirichlet(np.full(k, 0.15), n_users)
    activity = rng.lognormal(0.0, 0.8, n_users)
    users, items, when = (np.zeros(0, dtype=np.int64),) * 3
    first = np.zeros(0, dtype=np.int64)
    for _ in range(8):  # draw again while repeated pairs leave too few distinct ones
        more = int(max(n_interactions - len(first), 0) * 1.5 + 100)
        new_users = rng.choice(n_users, more, p=activity / activity.sum())
        # Each interaction's taste: drawn from its user's mixture by inverting the cumulative sums.
        taste = (np.cumsum(user_taste[new_users], axis=1) < rng.random(more)[:, None]).sum(axis=1).clip(max=k - 1)
        new_items = np.empty(more, dtype=np.int64)
        for t in range(k):
            rows = np.flatnonzero(taste == t)
            weight = popularity * item_taste[:, t]
            new_items[rows] = rng.choice(n_items, len(rows), p=weight / weight.sum())
        users, items = np.concatenate([users, new_users]), np.concatenate([items, new_items])
        # mostly soon after the item's release
        when = np.concatenate([when, release[new_items] + (days - release[new_items]) * rng.beta(1.0, 1.2, more)])
        _, first = np.unique(users * n_items + items, return_index=True)
        if len(first) >= n_interactions:
            break
    keep = np.sort(rng.permutation(first)[:n_interactions])
    user_names = np.array([f"u{i:05d}" for i in range(n_users)])
    item_names = np.array([f"i{i:05d}" for i in range(n_items)])
    order = keep[np.argsort(when[keep], kind="stable")]
    seconds = np.round(when[order] * 86400).astype("int64")
    frame = pd.DataFrame({"user_id": user_names[users[order]], "item_id": item_names[items[order]],
                          "timestamp": pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s")})
    if not tables:
        return frame
    words = np.array(["classic", "deluxe", "mini", "pro", "smart", "vintage", "eco", "family"])
    category = item_taste.argmax(axis=1)
    items_table = pd.DataFrame({
        "item_id": item_names, "category": np.array(CATEGORIES)[category],
        "title": np.char.add(np.char.add(words[rng.integers(0, len(words), n_items)], " "),
                             np.array(CATEGORIES)[category]),
        "price": np.round(rng.lognormal(3.0, 0.6, n_items), 2)})
    # Segments follow the users' main taste (pairs of tastes), with 20% noise.
    segment = np.where(rng.random(n_users) < 0.8, user_taste.argmax(axis=1) // 2, rng.integers(0, k // 2, n_users))
    users_table = pd.DataFrame({"user_id": user_names, "segment": np.char.add("segment_", segment.astype(str)),
                                "age": rng.integers(18, 80, n_users)})
    return frame, items_table, users_table
