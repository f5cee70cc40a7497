"""Shared fixtures: each module of tests/fixtures/ starts one kind of real component."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.keys",
    "tests.fixtures.idp",
    "tests.fixtures.portal",
    "tests.fixtures.sfu",
    "tests.fixtures.browser",
    "tests.fixtures.demo",
    "tests.fixtures.netns",
]
