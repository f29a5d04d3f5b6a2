"""What people and other programs see: the command line, the panel, MQTT. Depends on the rooms
below; nothing below imports a surface."""
