"""What scikit-learn should know of a transformer whose input is a list of texts."""

from __future__ import annotations

from typing import Any

__all__ = ["TextInputMixin"]


class TextInputMixin:
    """Tags a transformer as taking a 1-D list of strings; set ``requires_fit`` as it is.

    Put it first among the bases, before ``TransformerMixin`` and ``BaseEstimator``.
    """

    _requires_fit = True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = self._requires_fit
        return tags
