"""Django settings. Everything deployment-specific comes from :class:`dhnet.platform.config.Config`.

Do not add environment reads here: add a field to ``Config`` (typed, validated, documented) instead.
"""

from __future__ import annotations

from dhnet.platform.config import Config

CONFIG = Config.from_env()

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_trusted_origins)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "ninja",
    "dhnet.platform",
    "dhnet.audit",
    "dhnet.orgunits",
    "dhnet.accounts",
    "dhnet.diseases",
    "dhnet.reporting",
    "dhnet.jobs",
    "dhnet.signals",
    "dhnet.notifications",
    "dhnet.dashboard",
    "dhnet.fhir",
    "dhnet.identity",
    "dhnet.cases",
    "dhnet.consent",
    "dhnet.release",
    "dhnet.taxonomy",
    "dhnet.network",
    "dhnet.knowledge",
    "dhnet.atlas",
    "dhnet.feedback",
    "dhnet.needs",
    "dhnet.maturity",
    "dhnet.businesscase",
    "dhnet.planning",
    "dhnet.strategy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dhnet.accounts.middleware.ActorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dhnet.platform.urls"
WSGI_APPLICATION = "dhnet.platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "dhnet.platform.context.actor",
            ],
        },
    },
]

DATABASES = {"default": CONFIG.database.django()}
DATABASES.update({"vault": CONFIG.vault_database.django()} if CONFIG.vault_database else {})  # identity vault
DATABASE_ROUTERS = ["dhnet.identity.routers.VaultRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "platform:home"

SESSION_COOKIE_AGE = CONFIG.session_age
SESSION_EXPIRE_AT_BROWSER_CLOSE = CONFIG.session_expire_at_browser_close
SESSION_COOKIE_SECURE = not CONFIG.debug
CSRF_COOKIE_SECURE = not CONFIG.debug
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

DHNET_LOGIN_MAX_FAILURES = CONFIG.login_max_failures
DHNET_LOGIN_WINDOW = CONFIG.login_window
DHNET_LOCKOUT = CONFIG.lockout
DHNET_TRUSTED_PROXIES = CONFIG.trusted_proxies
DHNET_BASE_URL = CONFIG.base_url
FEEDBACK_MIN_RATINGS = CONFIG.feedback_min_ratings

EMAIL_HOST = CONFIG.email_host
EMAIL_PORT = CONFIG.email_port
EMAIL_HOST_USER = CONFIG.email_user
EMAIL_HOST_PASSWORD = CONFIG.email_password
EMAIL_USE_TLS = CONFIG.email_use_tls
DEFAULT_FROM_EMAIL = CONFIG.email_from

LANGUAGE_CODE = "en"
TIME_ZONE = CONFIG.time_zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# The application serves its own static files (WhiteNoise, straight from the apps' static/ folders); set
# DHNET_STATIC_ROOT only to collect them for a fronting web server.
STATIC_ROOT = str(CONFIG.static_root) if CONFIG.static_root else None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = CONFIG.debug

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "dhnet": {"level": "INFO"},
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
