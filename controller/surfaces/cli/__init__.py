"""The `halfstep` command line. Nothing imports these modules but the entry point; each command
loads what it needs when it runs."""
