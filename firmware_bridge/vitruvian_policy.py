"""The vitruvian:// driver's timings and thresholds, and what it tells the person.

In one place, apart from the code, because the connection (firmware_bridge/vitruvian_client.py),
the commands (vitruvian_commands.py) and the polling (vitruvian_samples.py) share them, and
because they are the driver's safety promises: how fast a stop goes out, when a link is lost.
"""

from __future__ import annotations

POLL_HZ = 20.0
READ_TIMEOUT_S = 1.5  # per sample read (the maintained app's)
TIMEOUTS_LOST = 5  # read timeouts in a row: the link is lost
READ_ERROR_BACKOFF_S = 0.1  # after a failed read, before the next one
WRITE_TIMEOUT_S = 2.0
STUCK_S = 0.5  # a read pending this long will not answer: the link's request slot is stuck
STOP_BEHIND_READ_S = 0.15  # a stop sent after abandoning a read: answered by now, or the
# link's one request slot is stuck behind that read (the trainer answers requests in order;
# BlueZ keeps the request queued after we stop waiting) and only a new link gets it through
HEARTBEAT_S = 2.0
CONNECT_TIMEOUT_S = 10.0
RECOVER_BUDGET_S = 30.0  # reconnecting after link trouble, before giving up
ZERO_CONFIRM_S = 3.0  # a sample with no load after the recovery stop, within this
ZERO_KG = 0.25  # per cable: below this, no load (0.01 kg resolution, a little noise)
G = 9.80665
LET_DOWN_NOW = ("the link to the trainer was lost and the weight may still be on: let the "
                "handles down slowly; reconnecting to stop it")
LET_DOWN = ("the trainer has been reconnected and stopped (no load): let the handles down "
            "if you have not")
NOT_STOPPED = ("the link to the trainer was lost and it could not be reached again: the weight "
               "may still be on; let the handles down slowly and switch the trainer off")
DELOAD_REASON = "the trainer took the load off by itself (deload): the set is over"
