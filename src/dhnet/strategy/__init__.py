"""The WHO Global strategy on digital health 2020-2025 as data, and the monitoring of its progress (issue 7)."""
