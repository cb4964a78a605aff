"""Retention: which month partitions have expired under the one-year policy, and removing them."""
