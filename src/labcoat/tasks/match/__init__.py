"""Record matching (``task="match"``, ``labcoat.match``): deduplicate one table or link two,
with the column roles, comparisons, blocking and threshold chosen for the user and
Fellegi–Sunter estimated through Splink (:mod:`~labcoat.tasks.match.fit`)."""
