"""Classifications as data: digital health interventions, health system challenges, system categories, the strategy's
strategic objectives (see docs/knowledge-design.md)."""
