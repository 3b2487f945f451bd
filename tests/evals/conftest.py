from evalfakes import history  # noqa: F401  (fixture)
