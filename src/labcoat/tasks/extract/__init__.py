"""Information extraction from text: the built-in extractors (dates, money, identifiers...,
``builtin``), which need no training, and the trainable entity extraction (``task="extract"``)."""
