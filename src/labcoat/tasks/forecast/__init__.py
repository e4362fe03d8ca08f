"""Forecasting: many series, probabilistic forecasts, backtested (``task="forecast"``).

The modules, in the order ``fit`` uses them: :mod:`.data` (the long table checked and made
regular), :mod:`.periods` (frequencies, seasons, holidays), :mod:`.candidates` (baselines,
statsforecast's local models, a global LightGBM), :mod:`.backtest` (rolling origins,
ensemble, conformal quantiles), :mod:`.metrics`, :mod:`.model` (``ForecastModel``) and
:mod:`.fit`. The libraries come with ``labcoat[forecast]``; without them only the baselines
run.
"""
