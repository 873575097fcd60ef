"""Feedback on tools: verified users rate deployments, moderators keep it civil, experts review with a rubric."""
