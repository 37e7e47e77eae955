"""The game: rules, the robot's strategies, rounds and match state (plain Python), and the pygame
screens that play them (``python -m game``). Importing it opens no window, camera or pin."""
