"""Emulation awards: criteria, nominations with their evidence, and the board's decisions."""
