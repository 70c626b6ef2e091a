"""The simulated /cgi-bin/ APIs; importing this package registers them all."""

from siyu.connectors.wecom_sim.apis import directory

__all__ = ["directory"]
