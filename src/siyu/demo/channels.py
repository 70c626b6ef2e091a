"""The demo's outbound channels: a local mailbox for email and the Aliyun SMS simulator.

`siyu demo` runs an SMTP sink on 127.0.0.1:8025 that keeps every message as a file under
`<data dir>/mail`, and the SMS simulator on 127.0.0.1:8011 with its seeded account. The
demo workspace's email and SMS accounts point at them, so a broadcast sent in the demo
really goes out — to the sink and the simulator, never to anyone's inbox or phone.
"""

from pathlib import Path

from sqlalchemy.orm import Session

from siyu.connectors.aliyun_sms_sim.config import SimConfig as SmsSimConfig
from siyu.connectors.aliyun_sms_sim.server import SimServer as SmsSimServer
from siyu.connectors.aliyun_sms_sim.server import start_demo_simulator
from siyu.connectors.smtp.sink import MailSink
from siyu.demo import data
from siyu.demo.people import Loaded
from siyu.messaging import service as messaging_service
from siyu.messaging.schemas import ChannelAccountIn

MAIL_HOST = "127.0.0.1"
MAIL_PORT = 8025
MAIL_FROM_ADDRESS = "member@shanchaji.example"
MAIL_FROM_NAME = f"{data.BRAND_NAME}会员中心"

SMS_HOST = "127.0.0.1"
SMS_PORT = 8011
# Receipts come a few seconds after a send, as carriers take a few: by then the send has
# recorded its message ids, so a receipt finds its delivery on the first push.
SMS_SIM_CONFIG = SmsSimConfig(seed=20240601, brand=data.BRAND_NAME, report_delay=5.0)
SMS_SIGN = data.BRAND_NAME


def mail_directory(data_dir: Path) -> Path:
    """Where the demo mailbox keeps the messages it received, one .eml file each."""
    return data_dir / "mail"


def load_channel_accounts(session: Session, loaded: Loaded) -> None:
    """The workspace's email account (the demo mailbox) and SMS account (the simulator)."""
    messaging_service.save_account(
        session,
        loaded.principal,
        "email",
        ChannelAccountIn(
            config={
                "host": MAIL_HOST,
                "port": MAIL_PORT,
                "security": "none",
                "from_address": MAIL_FROM_ADDRESS,
                "from_name": MAIL_FROM_NAME,
            }
        ),
    )
    messaging_service.save_account(
        session,
        loaded.principal,
        "sms",
        ChannelAccountIn(
            config={
                "base_url": f"http://{SMS_HOST}:{SMS_PORT}",
                "access_key_id": SMS_SIM_CONFIG.resolved_access_key_id,
            },
            secret=SMS_SIM_CONFIG.resolved_access_key_secret,
        ),
    )


def start_mail_sink(directory: Path, *, port: int | None = None) -> MailSink:
    """Run the demo mailbox (on MAIL_PORT unless told); raises OSError when the port is taken."""
    sink = MailSink(MAIL_HOST, port or MAIL_PORT, directory)
    sink.start()
    return sink


def start_sms_simulator(report_url: str = "", uplink_url: str = "") -> SmsSimServer:
    """Run the SMS simulator the demo's SMS account uses; raises OSError when the port is
    taken. Receipts and customer replies are pushed to the given URLs when there are any."""
    return start_demo_simulator(
        SMS_SIM_CONFIG,
        host=SMS_HOST,
        port=SMS_PORT,
        report_url=report_url,
        uplink_url=uplink_url,
    )
