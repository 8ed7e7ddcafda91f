"""Evaluation: lip-sync, identity, stability and liveliness metrics measured on videos."""
