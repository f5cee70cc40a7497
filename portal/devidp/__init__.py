"""Development OpenID Connect provider (panva's oidc-provider) for the demo and the test suite.

Never for production: accounts, clients and keys come from a JSON file and live in memory.
"""

from portal.devidp.launcher import (
    DEMO_ACCOUNTS,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_IDPS,
    DEMO_MINISTRIES,
    DEMO_PASSWORD,
    DemoAccount,
    DemoIdp,
    DemoMinistry,
    DevIdp,
    DevIdpError,
    demo_config,
    ensure_node_modules,
    start_idp,
)

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_IDPS",
    "DEMO_MINISTRIES",
    "DEMO_PASSWORD",
    "DemoAccount",
    "DemoIdp",
    "DemoMinistry",
    "DevIdp",
    "DevIdpError",
    "demo_config",
    "ensure_node_modules",
    "start_idp",
]
