"""Browser tests: a package so that their fixtures can be package-scoped (see conftest)."""
