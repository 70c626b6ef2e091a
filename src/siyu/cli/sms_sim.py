"""`siyu sms-sim`: run the Aliyun SMS simulator on its own, for trying SMS without an account."""

from typing import Annotated

import typer
import uvicorn
from rich.panel import Panel

from siyu.cli.common import console


def sms_sim(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8011,
    report_url: Annotated[str, typer.Option(help="where delivery receipts are pushed")] = "",
    uplink_url: Annotated[str, typer.Option(help="where customer replies are pushed")] = "",
    seed: Annotated[int, typer.Option(help="same seed, same AccessKey")] = 1,
) -> None:
    """Run a simulated Aliyun SMS server (阿里云短信模拟器) — for tests and demos only."""
    # Imported here so other commands do not load the simulator.
    from siyu.connectors.aliyun_sms_sim import SimConfig, create_sim_app  # noqa: PLC0415

    config = SimConfig(seed=seed, report_url=report_url, uplink_url=uplink_url)
    base_url = f"http://{host}:{port}"
    console.print(
        Panel(
            "\n".join(
                [
                    f"API base URL       {base_url}/",
                    f"AccessKey ID       {config.resolved_access_key_id}",
                    f"AccessKey Secret   {config.resolved_access_key_secret}",
                    f"sign               {config.brand}",
                    f"control API        {base_url}/control/state",
                    "",
                    "Not Aliyun: a simulator for tests and demos",
                    "(阿里云短信模拟器，仅供测试和演示).",
                ]
            ),
            title="Aliyun SMS simulator",
            expand=False,
        )
    )
    uvicorn.run(create_sim_app(config), host=host, port=port, log_level="info")
