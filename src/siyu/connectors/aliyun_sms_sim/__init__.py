"""An Aliyun SMS (Dysmsapi) simulator for tests and the demo; never started by the product app."""

from siyu.connectors.aliyun_sms_sim.app import create_sim_app
from siyu.connectors.aliyun_sms_sim.config import FlowLimit, SimConfig
from siyu.connectors.aliyun_sms_sim.server import (
    DEMO_PORT,
    AliyunSmsSim,
    SimServer,
    start_demo_simulator,
)
from siyu.connectors.aliyun_sms_sim.state import SimState

__all__ = [
    "DEMO_PORT",
    "AliyunSmsSim",
    "FlowLimit",
    "SimConfig",
    "SimServer",
    "SimState",
    "create_sim_app",
    "start_demo_simulator",
]
