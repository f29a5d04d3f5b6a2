"""The device panel: the HTTP server, its pages and the home screen under `halfstep serve`."""
