"""The control core: the session runner, safety supervisor, handles, loads, events, the history
store and structured logs. Imports planning and analysis, never a surface."""
