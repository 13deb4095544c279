"""Evaluation protocols: LFW 10-fold verification, TAR at FAR, identification among distractors."""
