from tests.fhir.fixtures import diseases, measure_report  # noqa: F401  (fixtures)
from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)
