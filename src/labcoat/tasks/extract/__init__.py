"""Information extraction: entities (names, places, amounts...) found in text."""
