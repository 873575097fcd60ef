from tests.cases.fixtures import diseases, reporter  # noqa: F401  (fixtures)
from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)
