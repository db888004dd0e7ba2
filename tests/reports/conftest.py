from tests.inspections.conftest import s  # noqa: F401  (the inspection scenario's fixture)
