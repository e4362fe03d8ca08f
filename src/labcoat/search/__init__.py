"""Budgeted search: study, budget, executors and ensemble selection."""

from labcoat.search.budget import Clock, parse_budget
from labcoat.evaluate.ensemble import select_ensemble
from labcoat.search.executor import Executor, LocalExecutor, TrialRequest
from labcoat.search.executors import get_executor
from labcoat.search.study import Study, StudyResult, StudyState
from labcoat.search.trial import PreprocessCache, Trial, TrialData, evaluate_trial

__all__ = ["Clock", "Executor", "LocalExecutor", "PreprocessCache", "Study", "StudyResult",
           "StudyState", "Trial", "TrialData", "TrialRequest", "evaluate_trial", "get_executor",
           "parse_budget", "select_ensemble"]
