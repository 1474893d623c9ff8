"""Call flows, one module per dialplan entry point; importing a module registers its route."""

from __future__ import annotations

from importlib import import_module

from hotline.agi.routes import RouteTable, routes

FLOW_MODULES = (
    "inbound",
    "outbound_followup",
    "outbound_arrears",
    "outbound_notice",
    "outbound_visitor",
    "outbound_appointment",
)


def load_flows() -> RouteTable:
    for name in FLOW_MODULES:
        import_module(f"{__name__}.{name}")
    return routes
