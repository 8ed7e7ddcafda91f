"""Evaluation: lip-sync, identity, stability and liveliness metrics measured on videos.

Modules: ``tracking`` (re-track a video into a landmark track with timestamps), ``metrics`` (pure
numpy metrics on tracks and curves), ``identity`` (dlib face embeddings, loaded lazily), ``run``
(orchestration, typed results, JSON; ``evaluate`` and ``self_reenact``), ``report`` (PNG/HTML plots),
``cli`` (``talkingface eval``). Definitions of every number: docs/EVALUATION.md.
"""
