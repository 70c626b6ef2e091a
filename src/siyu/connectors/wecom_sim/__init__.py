"""A WeCom server simulator for tests and the demo; never started by the production app."""

from siyu.connectors.wecom_sim.app import create_sim_app
from siyu.connectors.wecom_sim.config import SimConfig
from siyu.connectors.wecom_sim.server import SimServer, WecomSim
from siyu.connectors.wecom_sim.state import SimState

__all__ = ["SimConfig", "SimServer", "SimState", "WecomSim", "create_sim_app"]
