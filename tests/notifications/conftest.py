from tests.notifications.fixtures import (  # noqa: F401  (fixtures)
    diseases,
    emails,
    make_signal,
    smtp_server,
    webhook_server,
    webhook_server_factory,
)
from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)
