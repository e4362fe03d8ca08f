"""Segmentation: the segments of a table found without labels, described in words."""
