"""`siyu wecom-sim`: run the WeCom simulator on its own, for trying Siyu without a real corp."""

from typing import Annotated

import typer
import uvicorn
from rich.panel import Panel

from siyu.cli.common import console


def wecom_sim(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8010,
    seed_staff: Annotated[int, typer.Option(min=0, help="generated staff members")] = 20,
    seed_contacts: Annotated[int, typer.Option(min=0, help="generated customers")] = 2000,
    seed_departments: Annotated[int, typer.Option(min=0, help="generated departments")] = 5,
    seed_groups: Annotated[int, typer.Option(min=0, help="generated customer groups")] = 20,
    seed: Annotated[int, typer.Option(help="same seed, same corp")] = 1,
) -> None:
    """Run a simulated WeCom server (企业微信模拟器) — for tests and demos only."""
    # Imported here so other commands do not load the simulator.
    from siyu.connectors.wecom_sim import SimConfig, create_sim_app  # noqa: PLC0415

    config = SimConfig(
        seed=seed,
        departments=seed_departments,
        staff=seed_staff,
        contacts=seed_contacts,
        tag_groups=True,
        groups=seed_groups,
    )
    application = create_sim_app(config)
    base_url = f"http://{host}:{port}"
    console.print(
        Panel(
            "\n".join(
                [
                    f"API base URL      {base_url}",
                    f"corp id           {config.resolved_corp_id}",
                    f"contact secret    {config.resolved_contact_secret}",
                    f"directory secret  {config.resolved_directory_secret}",
                    f"control API       {base_url}/control/state",
                    "",
                    "Not WeCom: a simulator for tests and demos (企业微信模拟器，仅供测试和演示).",
                ]
            ),
            title="WeCom simulator",
            expand=False,
        )
    )
    uvicorn.run(application, host=host, port=port, log_level="info")
