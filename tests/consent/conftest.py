from tests.consent.fixtures import person, sms_gateway  # noqa: F401  (fixtures)
from tests.fhir.fixtures import diseases  # noqa: F401  (fixtures)
from tests.notifications.fixtures import smtp_server  # noqa: F401  (fixtures)
from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)
