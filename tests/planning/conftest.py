from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)
