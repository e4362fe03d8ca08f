"""The retraining lifecycle: a challenger fitted like the champion on new data, the promotion
gate, and ``labcoat watch``'s loop of checks and retrains.

- :mod:`labcoat.lifecycle.retrain`: ``labcoat.retrain`` (fit, gate, promote, record);
- :mod:`labcoat.lifecycle.gate`: the paired-bootstrap promotion gate and its policies;
- :mod:`labcoat.lifecycle.watch`: the watch loop, with :mod:`~labcoat.lifecycle.watch_config`
  (its YAML config) and :mod:`~labcoat.lifecycle.watch_state` (its state, action log and lock).

The lifecycle uses :mod:`labcoat.monitoring` (the checks and their statistics); monitoring does
not import the lifecycle. Nothing is imported with the package: import the module you need.
"""
