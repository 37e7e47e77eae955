"""Training, offline: everything that builds or adapts the models (PyTorch lives here only).

``python -m training`` (``cli``) runs one subcommand a module, each with ``add_arguments`` and
``main``: the write-up's pipeline in ``commands`` (split, info, train, evaluate, export, all),
``collect`` (capture), ``personalize`` (the guided session and personalisation), ``distill``,
``landmarks`` and ``palmdetector`` (MediaPipe's networks to ncnn), ``handcmd``, ``handviews``,
``edgereader`` and ``fusion`` (the landmark recogniser's head, its far / cut views, the edge
reader and the default's rule, each measured leave one set out). Beneath them: ``data`` and
``augment`` (photos and lists), ``models``, ``config`` and ``train`` (the recipe),
``evaluate``, ``export``; ``handdata`` / ``handhead`` / ``handpersonal`` / ``edgepersonal``
(landmarks, the head and their personal refits, numpy only) and ``capturereport``.
Play time never imports this package.
"""
