"""Figures of the mechanism-design studies (see :mod:`papers.mechanism_design.studies`)."""
