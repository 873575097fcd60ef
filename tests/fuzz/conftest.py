from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)
from tests.reporting.conftest import mappings  # noqa: F401  (fixtures)
