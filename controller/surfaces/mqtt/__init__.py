"""Telemetry over MQTT, with Home Assistant discovery."""
