"""The game: rules, the robot's strategies, rounds and match state (plain Python: ``rules``,
``strategy``, ``round``, ``referee``), and the pygame screens that play them (``screens``, one
module a screen, entered by ``app``'s loop with what the screen before handed over;
``python -m game``), or headless play (``headless``). Importing it opens no window, camera or
pin."""
