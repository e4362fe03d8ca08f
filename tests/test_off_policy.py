"""Exploration policies (serve/explore.py) and off-policy estimators (evaluate/off_policy.py).

Statistical checks use fixed seeds, and each tolerance is derived from the sample size it
checks (stated next to it), so a failure means a real discrepancy, not bad luck.

Measured (100 users, 30 items, k=5, logs of 1000 requests by epsilon-greedy 0.2 over a noisy
model; the targets use the same model): 95% interval coverage at R=200, greedy / epsilon 0.05
targets: IPS 95.5% / 95.5%, SNIPS 96.0% / 96.0%, DR 94.5% / 95.0%; at R=1000 (greedy, other
seeds) IPS 95.3%, SNIPS 94.6%, DR 94.5%. Mean widths: DR and SNIPS about 8% narrower than IPS.
A greedy target over a much better model has an ESS of ~7 on such logs (the notice fires) and
its intervals undercover (IPS 86.5%, DR 89.5% at R=200); with 10,000 requests (ESS ~70) IPS
covers 92%, DR 97% (R=100).
"""
from __future__ import annotations

import itertools
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.evaluate.off_policy import (
    PolicyEstimate, doubly_robust, estimate_all, ips, on_policy, snips, to_frame,
)
from labcoat.evaluate.off_policy_sim import ClickWorld
from labcoat.serve.explore import EpsilonGreedy, Greedy, Thompson, parse_explore, top_k

from conftest import simulation_size


def enumerate_epsilon_greedy(epsilon: float, scores: np.ndarray, k: int):
    """Every list slot-by-slot epsilon-greedy can show, with its probability, by brute force
    (independent of the implementation's rank-based dynamic programme)."""
    n = len(scores)
    order = [int(i) for i in np.lexsort((np.arange(n), -scores))]

    def walk(shown: list[int], p: float):
        if len(shown) == k:
            yield tuple(shown), p
            return
        remaining = [i for i in range(n) if i not in shown]
        best = next(i for i in order if i not in shown)
        for item in remaining:
            q = epsilon / len(remaining) + (1 - epsilon) * (item == best)
            if q > 0:
                yield from walk(shown + [item], p * q)

    yield from walk([], 1.0)


# --- exploration policies -------------------------------------------------------------------

@pytest.mark.parametrize("n, k", [(4, 2), (6, 3), (7, 5), (5, 5)])
@pytest.mark.parametrize("epsilon", [0.05, 0.3, 0.9])
def test_epsilon_greedy_marginals_are_exact(n, k, epsilon):
    scores = np.random.default_rng(n * k).normal(size=n)
    scores[1] = scores[2]  # a tie, broken by index
    expected = np.zeros((n, k))
    for shown, p in enumerate_epsilon_greedy(epsilon, scores, k):
        expected[list(shown), np.arange(k)] += p
    policy = EpsilonGreedy(epsilon)
    marginals = policy.marginals(scores, k)
    # Sums of at most n^k products of k factors: rounding is ~1e-15.
    np.testing.assert_allclose(marginals, expected, atol=1e-12)
    np.testing.assert_allclose(marginals.sum(axis=0), 1.0, atol=1e-12)  # one item per position
    assert (marginals.sum(axis=1) <= 1 + 1e-12).all()  # an item is shown at most once
    lists = list(enumerate_epsilon_greedy(epsilon, scores, k))
    shown = np.array(lists[len(lists) // 2][0])
    np.testing.assert_allclose(policy.propensity(scores, k, shown), expected[shown, np.arange(k)],
                               atol=1e-12)


def test_epsilon_greedy_rank_frequencies_match_its_propensities():
    scores = np.array([0.3, 2.0, -1.0, 0.9, 0.9, 1.5, 0.0, -0.4])
    k, draws = 3, 20_000
    policy = EpsilonGreedy(0.3)
    rng = np.random.default_rng(0)
    counts = np.zeros((len(scores), k))
    for _ in range(draws):
        items, propensities = policy.rank(scores, k, rng)
        assert len(set(items.tolist())) == k
        # What rank() logs is what propensity() recomputes from the same scores.
        np.testing.assert_array_equal(propensities, policy.propensity(scores, k, items))
        counts[items, np.arange(k)] += 1
    expected = policy.marginals(scores, k)
    # Binomial standard error per cell; 4.5 of them: a 24-cell false alarm rate ~2e-4.
    se = np.sqrt(expected * (1 - expected) / draws)
    assert (np.abs(counts / draws - expected) <= 4.5 * se + 1e-12).all()


def test_epsilon_greedy_is_fast_path_safe_for_a_large_catalogue():
    scores = np.random.default_rng(1).normal(size=10_000)
    items, propensities = EpsilonGreedy(0.05).rank(scores, 10, np.random.default_rng(2))
    assert len(set(items.tolist())) == 10
    assert ((propensities > 0) & (propensities <= 1)).all()
    assert EpsilonGreedy(0.05).marginals(scores, 10).sum(axis=0) == pytest.approx(np.ones(10))


def test_greedy_shows_the_top_k_with_certainty():
    scores = np.array([0.2, 0.9, 0.9, -1.0])
    items, propensities = Greedy().rank(scores, 3, np.random.default_rng(0))
    assert items.tolist() == [1, 2, 0] and propensities.tolist() == [1.0, 1.0, 1.0]
    assert Greedy().propensity(scores, 3, np.array([1, 0, 2])).tolist() == [1.0, 0.0, 0.0]
    assert top_k(scores, 10).tolist() == [1, 2, 0, 3]  # fewer candidates than k: all of them


def test_thompson_rank_frequencies_match_its_monte_carlo_propensities():
    scores = np.array([1.0, 0.8, 0.7, 0.2, -0.5, 0.75])
    k, samples, draws = 3, 10_000, 40_000
    sampler = Thompson(scale=0.5, draws=1)  # the sampling does not depend on ``draws``
    rng = np.random.default_rng(0)
    counts = np.zeros((len(scores), k))
    for _ in range(samples):
        items, _ = sampler.rank(scores, k, rng)
        counts[items, np.arange(k)] += 1
    expected = Thompson(scale=0.5, draws=draws, seed=1).marginals(scores, k)
    np.testing.assert_allclose(expected.sum(axis=0), 1.0, atol=1e-9)
    # Both sides are binomial shares: standard error sqrt(p(1-p)(1/samples + 1/draws)); 4.5 of them.
    se = np.sqrt(expected * (1 - expected) * (1 / samples + 1 / draws))
    assert (np.abs(counts / samples - expected) <= 4.5 * se + 1e-12).all()
    items = np.array([0, 5, 1])
    same = Thompson(scale=0.5, draws=draws, seed=1)
    np.testing.assert_allclose(same.propensity(scores, k, items), expected[items, np.arange(k)])


def test_thompson_floors_propensities_and_explores_less_what_was_shown_often():
    scores = np.random.default_rng(3).normal(size=200)
    items, propensities = Thompson(draws=50).rank(scores, 5, np.random.default_rng(0))
    assert (propensities >= 0.5 / 50).all() and len(set(items.tolist())) == 5
    # Many impressions shrink the posterior: the list is (nearly) the greedy one.
    seen = Thompson(impressions=np.full(200, 1e8), draws=200)
    np.testing.assert_allclose(seen.propensity(scores, 5, top_k(scores, 5)), 1.0)
    fresh = Thompson(draws=200).propensity(scores, 5, top_k(scores, 5))
    assert fresh.mean() < 0.9  # without impressions the top list is far from certain
    # Outside the shortlist: never shown.
    worst = np.argsort(scores)[:5]
    assert Thompson(shortlist=10).propensity(scores, 5, worst).tolist() == [0.0] * 5


@pytest.mark.parametrize("value, expected", [
    (None, Greedy()), ("0.05", EpsilonGreedy(0.05)), (" 0.2 ", EpsilonGreedy(0.2)), ("0", Greedy()),
])
def test_parse_explore(value, expected):
    assert parse_explore(value) == expected


def test_parse_explore_thompson():
    assert isinstance(parse_explore("Thompson"), Thompson)


@pytest.mark.parametrize("value", ["1", "1.5", "-0.1", "nan", "often", "", "5%"])
def test_parse_explore_refuses_anything_else(value):
    with pytest.raises(ConfigError) as error:
        parse_explore(value)
    assert repr(value) in str(error.value) and "thompson" in str(error.value)


# --- estimators: exact expectations ---------------------------------------------------------

def _one_request_log(items, propensities, rewards, target_propensities) -> pd.DataFrame:
    k = len(items)
    return pd.DataFrame({"request": 0, "position": np.arange(k), "item": items, "reward": rewards,
                         "propensity": propensities, "target_propensity": target_propensities})


@pytest.mark.parametrize("target", [Greedy(), EpsilonGreedy(0.1)])
def test_ips_is_exactly_unbiased_on_a_small_world(target):
    """E[IPS] over every (list, clicks) outcome of one request, weighted by its exact
    probability, is the target's true value; the same for the on-policy value."""
    world = ClickWorld(np.array([[0.6, 0.3, 0.1, 0.45]]), np.array([1.0, 0.4]))
    logging_scores = np.array([[0.1, 0.5, 0.9, 0.2]])  # a poor model logs
    target_scores = np.array([[0.9, 0.5, 0.1, 0.7]])
    logging, k = EpsilonGreedy(0.4), 2
    target_marginals = target.marginals(target_scores[0], k)
    expected_ips = expected_on = 0.0
    for shown, p_list in enumerate_epsilon_greedy(0.4, logging_scores[0], k):
        items = np.array(shown)
        propensities = logging.propensity(logging_scores[0], k, items)
        click_p = world.examination * world.attractiveness[0, items]
        for clicks in itertools.product([0, 1], repeat=k):
            p_clicks = np.prod(np.where(clicks, click_p, 1 - click_p))
            log = _one_request_log(items, propensities, clicks,
                                   target_marginals[items, np.arange(k)])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LabcoatNotice)  # a one-request log: extreme
                expected_ips += p_list * p_clicks * ips(log).value
            expected_on += p_list * p_clicks * on_policy(log).value
    # A sum of 6 x 4 products: rounding is ~1e-15.
    assert expected_ips == pytest.approx(world.true_value(target, target_scores), abs=1e-12)
    assert expected_on == pytest.approx(world.true_value(logging, logging_scores), abs=1e-12)


def test_hand_computed_estimates():
    log = pd.DataFrame({"request": [0, 0, 1, 1, 2, 2], "position": [0, 1] * 3,
                        "reward": [1, 0, 0, 1, 1, 1], "propensity": [0.5, 0.25, 0.5, 0.5, 1.0, 0.5],
                        "target_propensity": [1.0, 0.5, 0.0, 1.0, 0.5, 0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        # weights: [2, 2], [0, 2], [0.5, 0]; weighted rewards per request: 2, 2, 0.5
        assert ips(log).value == pytest.approx(4.5 / 3)
        # per position: (2 + 0.5) / (2 + 0 + 0.5) + 2 / (2 + 2 + 0)
        assert snips(log).value == pytest.approx(1.0 + 0.5)
        clipped = ips(log, clip=1.0)
    assert clipped.value == pytest.approx((1 + 1 + 0.5) / 3) and "clipped" in clipped.notes[0]
    assert on_policy(log).value == pytest.approx((1 + 1 + 2) / 3)


# --- estimators on the simulation: bias, coverage, width ------------------------------------

WORLD = ClickWorld.make(n_users=100, n_items=30, k=5, seed=0)
LOGGING = EpsilonGreedy(0.2)
LOGGING_SCORES = WORLD.scores(1.0, seed=1)


def run_repetitions(target, target_scores, repetitions: int, n_requests: int, seed: int = 0):
    """Estimates of ``repetitions`` independent logs: {name: (values, lows, highs)}, the truth."""
    truth = WORLD.true_value(target, target_scores)
    out: dict[str, list[tuple[float, float, float]]] = {"ips": [], "snips": [], "dr": []}
    for r in range(repetitions):
        log = WORLD.simulate_log(LOGGING, LOGGING_SCORES, target, target_scores, n_requests,
                                 np.random.default_rng([seed, r]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LabcoatNotice)
            for name, estimate in (("ips", ips(log)), ("snips", snips(log)),
                                   ("dr", doubly_robust(log, seed=r))):
                out[name].append((estimate.value, estimate.low, estimate.high))
    return {name: np.array(rows) for name, rows in out.items()}, truth


def coverage_is_plausible(covered: int, repetitions: int) -> bool:
    """Could the true coverage be in the issue's 90-98% given ``covered`` of ``repetitions``?

    One-sided binomial tests against each end at level 0.001 (so a correct estimator fails
    this by chance once in 1000 runs). At R=200 this rejects observed coverage below ~84.5%;
    the upper end cannot be rejected at R=200 (200/200 has probability 0.018 at 98%), it can
    at R=1000 (above ~99%).
    """
    too_low = stats.binom.cdf(covered, repetitions, 0.90) < 0.001
    too_high = stats.binom.sf(covered - 1, repetitions, 0.98) < 0.001
    return not (too_low or too_high)


# Targets using the logging model's scores: greedy (stop exploring) and another rate.
SCENARIOS = {"greedy": Greedy(), "epsilon_0.05": EpsilonGreedy(0.05)}


def check_scenario(target, repetitions: int, n_requests: int, seed: int):
    results, truth = run_repetitions(target, LOGGING_SCORES, repetitions, n_requests, seed)
    report = {}
    for name, rows in results.items():
        values, lows, highs = rows.T
        covered = int(((lows <= truth) & (truth <= highs)).sum())
        report[name] = covered / repetitions
        if name in ("ips", "dr"):  # SNIPS: reported, its O(1/N) bias is not excluded
            assert coverage_is_plausible(covered, repetitions), (name, covered, repetitions)
            # Unbiased: the mean of R estimates is within 4 standard errors of the truth.
            assert abs(values.mean() - truth) <= 4 * values.std(ddof=1) / np.sqrt(repetitions), name
    width = {name: float((rows[:, 2] - rows[:, 1]).mean()) for name, rows in results.items()}
    assert width["dr"] < width["ips"]
    return report, width


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_intervals_cover_the_truth(scenario):
    report, width = check_scenario(SCENARIOS[scenario], repetitions=200, n_requests=1000, seed=0)
    print(scenario, "coverage", report, "mean width", width)


class NaiveEpsilonGreedy(EpsilonGreedy):
    """A common mistake: log the per-slot probability (1 - ε + ε/n for a greedy pick, ε/n for a
    random one), ignoring that earlier slots change what later slots can take."""

    def rank(self, scores, k, rng):
        items, _ = super().rank(scores, k, rng)
        greedy = np.isin(items, top_k(scores, k))
        n = len(scores)
        return items, np.where(greedy, 1 - self.epsilon + self.epsilon / n, self.epsilon / n)


def test_the_coverage_check_catches_wrong_propensities(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "LOGGING", NaiveEpsilonGreedy(0.2))
    with pytest.raises(AssertionError):
        check_scenario(Greedy(), repetitions=50, n_requests=1000, seed=0)


@pytest.mark.slow
def test_intervals_cover_the_truth_many_repetitions():
    """R=1000 makes the upper end (98%) testable; greedy has the larger weights of the two.
    400 by default (the upper end then rejects only 400 of 400): see ``simulation_size``."""
    report, width = check_scenario(Greedy(), repetitions=simulation_size(400, 1000), n_requests=1000, seed=1)
    print("greedy coverage", report, "mean width", width)


def test_a_distant_target_warns_about_its_weights():
    """A greedy policy over a much better model, on logs of a poor one: few rows agree, the
    weights are extreme (ESS well under 1% of the requests), and labcoat says so."""
    target_scores = WORLD.scores(0.5, seed=2)
    log = WORLD.simulate_log(LOGGING, LOGGING_SCORES, Greedy(), target_scores, 1000,
                             np.random.default_rng(0))
    with pytest.warns(LabcoatNotice, match="effective sample size"):
        estimate = ips(log)
    assert estimate.ess < 10 and estimate.notes


def test_a_nearby_target_does_not_warn():
    log = WORLD.simulate_log(LOGGING, LOGGING_SCORES, EpsilonGreedy(0.1), LOGGING_SCORES, 1000,
                             np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabcoatNotice)
        estimates = estimate_all(log)
    frame = to_frame(estimates)
    assert frame["name"].tolist() == ["ips", "snips", "doubly_robust", "on_policy"]
    assert (frame["low"] < frame["value"]).all() and (frame["value"] < frame["high"]).all()
    assert estimates[0].ess > 100


def test_bad_logs_are_refused():
    log = _one_request_log(np.array([1, 2]), [0.5, 0.0], [1, 0], [1.0, 0.0])
    with pytest.raises(DataError, match="propensity"):
        ips(log)
    with pytest.raises(DataError, match="target_propensity"):
        ips(log.drop(columns="target_propensity"))
    with pytest.raises(DataError, match="same request and position"):
        ips(pd.concat([log.assign(propensity=0.5)] * 2))
    with pytest.raises(ConfigError, match="clip"):
        ips(log.assign(propensity=0.5), clip=0)


def test_estimate_fields():
    estimate = PolicyEstimate("ips", 0.5, 0.4, 0.6, 10, 9.0, ("a", "b"))
    assert estimate.to_dict()["notes"] == "a; b"
