"""From maturity gaps to a costed roadmap: target phases, the gap list, roadmap items and milestones."""
