"""The unit's GATT profile (docs/protocol.md, section 6): one service, two characteristics.

The host writes one protocol frame per write (with response) to RX and receives one frame per
notification from TX. Frames are at most 244 bytes, so an ATT MTU of 247 carries any frame.
"""

from __future__ import annotations

SERVICE_UUID = "6f1c0001-7a2b-4c4e-9d5e-48616c667374"
RX_UUID = "6f1c0002-7a2b-4c4e-9d5e-48616c667374"  # host -> unit: write, write without response
TX_UUID = "6f1c0003-7a2b-4c4e-9d5e-48616c667374"  # unit -> host: notify
PREFERRED_MTU = 247
ADVERTISED_NAME_PREFIX = "Halfstep"
