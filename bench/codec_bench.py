"""Codec throughput: telemetry samples/s encoded and decoded (batched frames), on one core.

Compares each figure with what the physical links can carry: a 921,600-baud UART (8N1, so
92,160 bytes/s) and BLE at about 400 notifications/s of one frame each.
"""

from __future__ import annotations

import time

import numpy as np

from firmware_bridge.codec import FrameDecoder, encode, max_samples_per_frame
from firmware_bridge.messages import Telemetry, sample_dtype

UART_BYTES_S = 921_600 / 10
BLE_NOTIFICATIONS_S = 400


def batches(cables: int, n_frames: int) -> list[Telemetry]:
    per = max_samples_per_frame(cables)
    rng = np.random.default_rng(1)
    out = []
    for i in range(n_frames):
        s = np.zeros(per, dtype=sample_dtype(cables))
        s["dt_us"] = np.arange(per) * 10_000
        s["cable"]["position_dmm"] = rng.integers(0, 6000, (per, cables))
        s["cable"]["velocity_mm_s"] = rng.integers(-1500, 1500, (per, cables))
        s["cable"]["tension_dn"] = rng.integers(0, 9000, (per, cables))
        s["cable"]["load_half_kg"] = 40
        out.append(Telemetry(i * per * 10_000, cables, s))
    return out


def best_of(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    print("codec throughput (best of 5 runs, one core)")
    for cables in (1, 2):
        msgs = batches(cables, 20_000)
        per = len(msgs[0])
        frames = [encode(m, i & 0xFF) for i, m in enumerate(msgs)]
        stream = b"".join(frames)
        frame_len = len(frames[0])
        n_samples = per * len(msgs)

        enc_s = best_of(lambda msgs=msgs: [encode(m, 0) for m in msgs])

        def decode_stream(stream: bytes = stream) -> None:
            dec = FrameDecoder()
            for i in range(0, len(stream), 4096):  # reads as a serial port delivers them
                dec.feed(stream[i : i + 4096])

        dec_s = best_of(decode_stream)
        check = FrameDecoder()
        assert len(check.feed(stream)) == len(msgs) and check.stats.bad_frames == 0

        uart_samples = UART_BYTES_S / frame_len * per
        ble_samples = BLE_NOTIFICATIONS_S * per
        enc_rate, dec_rate = n_samples / enc_s, n_samples / dec_s
        print(f"\n{cables} cable(s): {per} samples per {frame_len}-byte frame")
        print(f"  encode: {enc_rate:12,.0f} samples/s  {len(msgs) / enc_s:10,.0f} frames/s")
        print(f"  decode: {dec_rate:12,.0f} samples/s  {len(msgs) / dec_s:10,.0f} frames/s  "
              f"{len(stream) / dec_s / 1e6:6.1f} MB/s")
        print(f"  link limits: UART 921,600 baud {uart_samples:9,.0f} samples/s "
              f"(decode is {dec_rate / uart_samples:6.1f}x that); BLE 400 notif/s "
              f"{ble_samples:7,.0f} samples/s (decode {dec_rate / ble_samples:6.1f}x)")

    small = encode(Telemetry(0, 1, np.zeros(1, sample_dtype(1))), 0)
    print(f"\nsmallest telemetry frame {len(small)} bytes; UART carries "
          f"{UART_BYTES_S / 20:,.0f} frames/s of 20 bytes")


if __name__ == "__main__":
    main()
