"""Committed weights of the learned motion models (see docs/MODEL_CARD.md, motion.model)."""
