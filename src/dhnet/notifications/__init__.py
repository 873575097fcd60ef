"""Notifications: subscriptions to signals, e-mail and webhook deliveries, the daily digest, report reminders."""
