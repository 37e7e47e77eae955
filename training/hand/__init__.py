"""The landmark recogniser's offline half: MediaPipe's hand networks and palm detectors read out
of the wheel and converted to ncnn (``landmarks``, ``palm``), the landmarks of every shared photo
(``data``), the gesture head and its leave-one-set-out figures (``head``, ``command``: ``python
-m training hand``), far / cut / blurred views (``views``: ``python -m training views``), the
edge reader (``edge``: ``python -m training edge``), the fused default's rule (``fusion``) and
the personal refits (``personal``, ``edgepersonal``: numpy and ncnn only, as on the Pi).
"""
