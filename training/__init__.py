"""Training, offline: everything that builds or adapts the models (PyTorch lives here only).

``python -m training`` (``cli``) runs one subcommand a module, each with ``add_arguments`` and
``main``: the write-up's pipeline in ``commands`` (split, info, train, evaluate, export, all),
and the packages ``collect`` (capture), ``personalize`` (the guided session and
personalisation), ``distill`` (the shipped model's recipe) and ``hand`` (the landmark
recogniser's: ``landmarks`` and ``palm``, MediaPipe's networks to ncnn; ``command``, its head
leave one set out; ``views``, far / cut / blurred views; ``edge``, the edge reader; ``fusion``,
the default's rule). Beneath them: ``data`` and ``augment`` (photos and lists), ``models``,
``config`` and ``train`` (the recipe), ``loop`` (the one training loop), ``checkpoint``,
``evaluate``, ``export``; ``hand.data``, ``hand.head``, ``hand.personal`` and
``hand.edgepersonal`` (landmarks, the head and their personal refits, numpy only) and
``capturereport``. Play time never imports this package.
"""
