"""The award workflow's entries: nominations and the board's transitions."""
