"""Needs ↔ solutions: a country's needs, their ranked and explained matches, and portfolio analytics."""
