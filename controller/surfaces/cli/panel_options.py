"""What `run` and `serve` share: the history option, the panel's address and PIN, and the
refusal to load a paused person's motor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from controller.core.inputs import InputError, host_port

DB_OPTION = click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False),
                         default=Path("halfstep.sqlite"), show_default=True,
                         help="The history database.")


class Refused(click.ClickException):
    """The program refuses to load the motor (paused by a red flag): exit 2, the reason."""

    exit_code = 2


def panel_address(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    try:
        return host_port(value, "--panel")
    except InputError as e:
        raise click.BadParameter(f"{e} (0.0.0.0:8080 for every address; port 0: any free "
                                 "port)") from None


def panel_pin(db_path: Path) -> dict[str, str]:
    """The panel's PIN (salted scrypt, next to the history), asked for at the first run; from
    HALFSTEP_PANEL_PIN when there is no terminal."""
    import os

    from controller.surfaces.panel.app import hash_pin, valid_pin

    pin_file = db_path.with_name(db_path.stem + "-panel-pin.json")
    if pin_file.exists():
        return json.loads(pin_file.read_text())
    pin = os.environ.get("HALFSTEP_PANEL_PIN")
    if pin is None:
        if not sys.stdin.isatty():
            raise click.UsageError("the panel listens beyond this machine, so it needs a PIN: "
                                   "run once at a terminal, or set HALFSTEP_PANEL_PIN")
        pin = click.prompt("Set the panel's PIN (4 to 12 digits 0-9; also locks starting the "
                           "motor)",
                           hide_input=True, confirmation_prompt=True)
    if not valid_pin(pin):
        raise click.UsageError("the panel PIN must be 4 to 12 digits 0-9")
    stored = hash_pin(pin)
    pin_file.write_text(json.dumps(stored))
    pin_file.chmod(0o600)
    return stored
