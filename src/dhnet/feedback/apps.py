from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "dhnet.feedback"
    label = "feedback"
    verbose_name = "Feedback on digital health tools (ratings, moderation, expert reviews)"
    default_auto_field = "django.db.models.BigAutoField"
