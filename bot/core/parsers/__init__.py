"""One module per log format; `registry` detects which one a log uses."""
